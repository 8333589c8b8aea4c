package incident

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// maxFindingIDPart is how many characters of the finding ID a case ID keeps.
const maxFindingIDPart = 60

// CaseIDForFinding returns the case ID of a GuardDuty finding: "gd-" and the
// finding ID lower-cased, every character outside [a-z0-9-] replaced by "-",
// cut to 60 characters. When that changed the ID in any way (a letter
// lower-cased, a character replaced, the ID cut), "-" and the first 8 hex
// digits of the SHA-256 of the finding ID as given are appended, so two
// distinct finding IDs do not share a case. The result is safe in an S3 key
// and a file name and is at most 72 characters.
//
//	"b4b01b60fc24a199139f8f5f490edd81" -> "gd-b4b01b60fc24a199139f8f5f490edd81"
//	"Finding/ABC"                      -> "gd-finding-abc-7bcf00df"
//
// GuardDuty finding IDs are 32 lower-case hex digits, so real ones map to
// "gd-" and the ID unchanged.
func CaseIDForFinding(findingID string) string {
	var b strings.Builder
	for _, r := range findingID {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			b.WriteRune(r)
		case r >= 'A' && r <= 'Z':
			b.WriteRune(r - 'A' + 'a')
		default:
			b.WriteByte('-')
		}
	}
	part := b.String()
	changed := part != findingID
	if len(part) > maxFindingIDPart {
		part, changed = part[:maxFindingIDPart], true
	}
	if changed {
		sum := sha256.Sum256([]byte(findingID))
		part += "-" + hex.EncodeToString(sum[:])[:8]
	}
	return "gd-" + part
}

// CaseIDForManual returns the case ID of a manual start: "mn-" and the first
// 24 hex digits of the SHA-256 of
//
//	lower(resourceType) + "\n" + resourceID + "\n" + start + "\n" + end
//
// with start and end in RFC 3339 (time.RFC3339Nano) in UTC. For example
// Instance i-0123456789abcdef0 from 2024-05-01T10:00:00Z to
// 2024-05-01T18:00:00Z is "mn-d3835c0dd84ac4bab784d432". The same
// resource and window (as finding.Parse normalises them) always give the
// same case; any other resource or window another.
func CaseIDForManual(resourceType, resourceID string, w Window) string {
	s := strings.ToLower(resourceType) + "\n" + resourceID + "\n" +
		w.Start.UTC().Format(time.RFC3339Nano) + "\n" + w.End.UTC().Format(time.RFC3339Nano)
	sum := sha256.Sum256([]byte(s))
	return "mn-" + hex.EncodeToString(sum[:])[:24]
}

// runIDLayout is RunIDFor's layout: basic ISO 8601 with milliseconds, no
// separators but "T", so the ID is a file name and sorts by time.
const runIDLayout = "20060102T150405.000Z"

// RunIDFor returns the run ID for a finding version: "r" and updatedAt in
// UTC as 20060102T150405000Z (milliseconds, the dot removed), e.g.
// 2017-12-08T15:32:49.865Z -> "r20171208T153249865Z". Run IDs of one case
// sort in updatedAt order; the same updatedAt always gives the same run, so a
// second delivery of the same finding version is the same run. Time below a
// millisecond is dropped (GuardDuty writes milliseconds).
//
// A manual start's run ID is RunIDFor(window end as asked): its case ID
// already names resource and window, so the same request twice is the same
// case and the same run.
func RunIDFor(updatedAt time.Time) string {
	return "r" + strings.Replace(updatedAt.UTC().Format(runIDLayout), ".", "", 1)
}
