package main

import (
	"fmt"
	"time"

	"github.com/custody-ir/custody/shared/faults"
)

// EnvAdvisorTimeout bounds how long the collector waits for one Access
// Advisor job (GenerateServiceLastAccessedDetails) to complete.
const EnvAdvisorTimeout = "CUSTODY_IAM_ADVISOR_TIMEOUT"

const (
	// DefaultAdvisorTimeout is the wait when CUSTODY_IAM_ADVISOR_TIMEOUT is
	// unset: jobs usually finish in seconds.
	DefaultAdvisorTimeout = 2 * time.Minute
	// maxAdvisorTimeout keeps the wait well inside the Lambda's 15 minutes,
	// with time left for the identity calls and the writes.
	maxAdvisorTimeout = 10 * time.Minute
)

// ParseAdvisorTimeout reads CUSTODY_IAM_ADVISOR_TIMEOUT: a Go duration
// ("2m", "90s") from 1s to 10m. Empty is the default (2m). Anything else
// is a *faults.ConfigurationError.
func ParseAdvisorTimeout(v string) (time.Duration, error) {
	if v == "" {
		return DefaultAdvisorTimeout, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, &faults.ConfigurationError{Setting: EnvAdvisorTimeout, Reason: "not a Go duration (e.g. 2m, 90s): " + err.Error()}
	}
	if d < time.Second || d > maxAdvisorTimeout {
		return 0, &faults.ConfigurationError{Setting: EnvAdvisorTimeout, Reason: fmt.Sprintf("%s: must be from 1s to %s (the Lambda runs 15 minutes at most)", v, maxAdvisorTimeout)}
	}
	return d, nil
}
