package incident

import (
	"time"

	"github.com/custody-ir/custody/shared/faults"
)

// Environment variables ConfigFromEnv reads.
const (
	EnvLookback  = "CUSTODY_LOOKBACK"
	EnvLookahead = "CUSTODY_LOOKAHEAD"
	EnvMaxSpan   = "CUSTODY_MAX_SPAN"
)

// Defaults for Config.
const (
	DefaultLookback  = 6 * time.Hour
	DefaultLookahead = 1 * time.Hour
	DefaultMaxSpan   = 168 * time.Hour
)

// Config sets how a finding's activity times become a collection window.
type Config struct {
	// Lookback is taken before the activity was first seen.
	Lookback time.Duration
	// Lookahead is added after the activity was last seen.
	Lookahead time.Duration
	// MaxSpan caps the window; a longer one keeps its end (the most recent
	// activity) and loses its start, with a warning.
	MaxSpan time.Duration
}

// DefaultConfig returns the defaults: 6h lookback, 1h lookahead, 168h span.
func DefaultConfig() Config {
	return Config{Lookback: DefaultLookback, Lookahead: DefaultLookahead, MaxSpan: DefaultMaxSpan}
}

// ConfigFromEnv reads CUSTODY_LOOKBACK, CUSTODY_LOOKAHEAD and
// CUSTODY_MAX_SPAN as Go durations ("6h", "90m"); an unset or empty variable
// takes its default. A value that is not a duration, a negative lookback or
// lookahead, or a maximum span that is not positive is a
// *faults.ConfigurationError naming the variable.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := DefaultConfig()
	for _, s := range []struct {
		name     string
		dst      *time.Duration
		positive bool
	}{
		{EnvLookback, &cfg.Lookback, false},
		{EnvLookahead, &cfg.Lookahead, false},
		{EnvMaxSpan, &cfg.MaxSpan, true},
	} {
		v := getenv(s.name)
		if v == "" {
			continue
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return Config{}, &faults.ConfigurationError{Setting: s.name, Reason: "not a Go duration (e.g. 6h, 90m): " + err.Error()}
		}
		if d < 0 || (s.positive && d == 0) {
			want := "must not be negative"
			if s.positive {
				want = "must be positive"
			}
			return Config{}, &faults.ConfigurationError{Setting: s.name, Reason: v + " " + want}
		}
		*s.dst = d
	}
	return cfg, nil
}
