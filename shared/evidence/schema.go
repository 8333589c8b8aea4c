package evidence

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// ManifestSchemaVersion is the manifest format this package writes and the
// schema describes; Seal puts it in Manifest.SchemaVersion.
const ManifestSchemaVersion = "1"

// Collector statuses in a manifest and a CollectorResult.
const (
	CollectorOK      = "ok"
	CollectorFailed  = "failed"
	CollectorSkipped = "skipped"
)

// ManifestSchema is the JSON Schema (draft 2020-12) of manifest.json.
//
//go:embed manifest.schema.json
var ManifestSchema []byte

const manifestSchemaURL = "https://github.com/custody-ir/custody/shared/evidence/manifest.schema.json"

var (
	schemaOnce     sync.Once
	compiledSchema *jsonschema.Schema
	schemaErr      error
)

// manifestSchema compiles the embedded schema once. Formats (date-time) are
// asserted: draft 2020-12 treats them as annotations unless asked.
func manifestSchema() (*jsonschema.Schema, error) {
	schemaOnce.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(ManifestSchema))
		if err != nil {
			schemaErr = fmt.Errorf("manifest schema: %w", err)
			return
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		c.AssertFormat()
		if err := c.AddResource(manifestSchemaURL, doc); err != nil {
			schemaErr = fmt.Errorf("manifest schema: %w", err)
			return
		}
		compiledSchema, schemaErr = c.Compile(manifestSchemaURL)
	})
	return compiledSchema, schemaErr
}

// ValidateManifest checks a manifest.json document against the schema. The
// error, when not nil, lists every violation with its JSON location.
func ValidateManifest(data []byte) error {
	sch, err := manifestSchema()
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("manifest is not JSON: %w", err)
	}
	if err := sch.Validate(inst); err != nil {
		return fmt.Errorf("manifest does not match its schema: %w", err)
	}
	return nil
}

// ParseManifest validates data against the schema and decodes it.
func ParseManifest(data []byte) (*Manifest, error) {
	if err := ValidateManifest(data); err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decode manifest: %w", err)
	}
	return &m, nil
}

// MarshalJSON writes the manifest as the schema wants it whatever the
// caller left unset: nil lists as [] (not null) and every time in UTC.
func (m Manifest) MarshalJSON() ([]byte, error) {
	type plain Manifest // no methods: no recursion
	p := plain(m)
	p.Gaps = orEmpty(p.Gaps)
	p.Warnings = orEmpty(p.Warnings)
	p.Collectors = orEmpty(p.Collectors)
	p.Snapshots = orEmpty(p.Snapshots)
	p.Artifacts = utcArtifacts(p.Artifacts)
	p.Window.Start, p.Window.End = p.Window.Start.UTC(), p.Window.End.UTC()
	p.OpenedAt, p.SealedAt = p.OpenedAt.UTC(), p.SealedAt.UTC()
	if p.Finding != nil {
		f := *p.Finding
		f.UpdatedAt = f.UpdatedAt.UTC()
		p.Finding = &f
	}
	return json.Marshal(p)
}

// MarshalJSON writes a collector result with nil lists as [] and times in
// UTC, like Manifest.
func (r CollectorResult) MarshalJSON() ([]byte, error) {
	type plain CollectorResult
	p := plain(r)
	p.Artifacts = utcArtifacts(p.Artifacts)
	p.Gaps = orEmpty(p.Gaps)
	p.Warnings = orEmpty(p.Warnings)
	p.Snapshots = orEmpty(p.Snapshots)
	p.StartedAt, p.FinishedAt = p.StartedAt.UTC(), p.FinishedAt.UTC()
	return json.Marshal(p)
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// utcArtifacts copies the list with its times in UTC (the caller's slice is
// left alone).
func utcArtifacts(in []Artifact) []Artifact {
	out := make([]Artifact, len(in))
	for i, a := range in {
		a.CollectedAt = a.CollectedAt.UTC()
		a.FirstEvent = utcPtr(a.FirstEvent)
		a.LastEvent = utcPtr(a.LastEvent)
		out[i] = a
	}
	return out
}
