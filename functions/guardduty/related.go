package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	"github.com/aws/aws-sdk-go-v2/service/guardduty/types"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/incident"
)

// guardDutyAPI is every GuardDuty call the collector makes: GetFindings for
// a finding named by reference and for the related findings, ListFindings
// and ListDetectors to find them.
type guardDutyAPI interface {
	findingGetter
	guardduty.ListFindingsAPIClient
	guardduty.ListDetectorsAPIClient
}

// Limits of the GuardDuty API and of what one run keeps.
const (
	// getFindingsBatch is the most finding IDs GetFindings takes at once.
	getFindingsBatch = 50
	// listFindingsPage is the most IDs ListFindings returns a page.
	listFindingsPage = 50
	// defaultMaxRelated bounds the related findings one run fetches (a
	// finding is a few KB; a noisy resource can have thousands).
	defaultMaxRelated = 1000
)

// The FindingCriteria attributes the related findings are looked up by.
const (
	attrInstanceID  = "resource.instanceDetails.instanceId"
	attrAccessKeyID = "resource.accessKeyDetails.accessKeyId"
	attrUserName    = "resource.accessKeyDetails.userName"
	attrBucketName  = "resource.s3BucketDetails.name"
	attrUpdatedAt   = "updatedAt"
)

// criterion is one resource the related findings are looked up by.
type criterion struct {
	Attr, Value string
}

func (c criterion) String() string { return c.Attr + "=" + c.Value }

// relatedCriteria lists the resources in scope GuardDuty can filter on: each
// instance, access key, IAM user or role name (accessKeyDetails.userName
// holds either) and bucket, in that order.
func relatedCriteria(sc incident.Scope) []criterion {
	var out []criterion
	add := func(attr string, values ...[]string) {
		seen := map[string]bool{}
		for _, vs := range values {
			for _, v := range vs {
				if v != "" && !seen[v] {
					seen[v] = true
					out = append(out, criterion{attr, v})
				}
			}
		}
	}
	add(attrInstanceID, sc.Instances)
	add(attrAccessKeyID, sc.AccessKeys)
	add(attrUserName, sc.UserNames, sc.RoleNames)
	add(attrBucketName, sc.Buckets)
	return out
}

// findingCriteria is the FindingCriteria of one ListFindings call: the
// resource, and updated at or after since. GuardDuty ANDs the criteria of
// one call, so each resource gets its own call.
func findingCriteria(c criterion, since time.Time) *types.FindingCriteria {
	return &types.FindingCriteria{Criterion: map[string]types.Condition{
		c.Attr:        {Equals: []string{c.Value}},
		attrUpdatedAt: {GreaterThanOrEqual: aws.Int64(since.UnixMilli())},
	}}
}

// criteriaRequest is a FindingCriteria as the API names its members, for
// the manifest.
func criteriaRequest(c criterion, since time.Time) map[string]any {
	return map[string]any{"Criterion": map[string]any{
		c.Attr:        map[string]any{"Equals": []string{c.Value}},
		attrUpdatedAt: map[string]any{"GreaterThanOrEqual": since.UnixMilli()},
	}}
}

// relatedDoc is related.json: GetFindings' answer (the SDK's structs marshal
// with the API's member names) and which lookup found each finding.
type relatedDoc struct {
	DetectorId string
	Findings   []types.Finding
	// MatchedBy maps a finding ID to the criteria whose ListFindings
	// returned it ("resource.instanceDetails.instanceId=i-…").
	MatchedBy map[string][]string
}

// relatedFindings stores guardduty/related.json: the detector's other
// findings for the same instances, access keys, users and buckets, updated
// since the window's start. exclude is the run's own finding ID.
func (c *FindingCollector) relatedFindings(ctx context.Context, inc *incident.Incident, out *collect.Output, detectorID, exclude string) error {
	crit := relatedCriteria(inc.Scope)
	if len(crit) == 0 {
		out.Warn("no related findings looked up: no instance, access key, user, role or bucket in scope")
		return nil
	}
	if detectorID == "" {
		id, err := c.detector(ctx, out, inc.Scope.Region)
		if err != nil || id == "" {
			return err
		}
		detectorID = id
	}
	since := inc.Window.Start.UTC()

	matched := map[string][]string{}
	var order []string
	var calls []any
	for _, cr := range crit {
		in := &guardduty.ListFindingsInput{
			DetectorId: aws.String(detectorID), FindingCriteria: findingCriteria(cr, since), MaxResults: aws.Int32(listFindingsPage),
		}
		calls = append(calls, criteriaRequest(cr, since))
		p := guardduty.NewListFindingsPaginator(c.Findings, in)
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				if stop, err := c.refused(out, "guardduty:ListFindings", fmt.Sprintf("detector %s, %s", detectorID, cr), err); stop || err != nil {
					return err
				}
				break
			}
			for _, id := range page.FindingIds {
				if id == "" || id == exclude {
					continue
				}
				if _, ok := matched[id]; !ok {
					order = append(order, id)
				}
				if m := matched[id]; len(m) == 0 || m[len(m)-1] != cr.String() {
					matched[id] = append(m, cr.String())
				}
			}
		}
	}
	if len(order) == 0 {
		out.Warn("no related findings: detector %s has no other finding for %s updated since %s",
			detectorID, describe(crit), since.Format(time.RFC3339))
		return nil
	}
	sort.Strings(order)
	limit := c.MaxRelated
	if limit <= 0 {
		limit = defaultMaxRelated
	}
	if len(order) > limit {
		out.Warn("%d related findings: only %d were fetched (the first by finding ID); list the rest with the criteria in the manifest", len(order), limit)
		order = order[:limit]
	}

	batch := c.Batch
	if batch <= 0 || batch > getFindingsBatch {
		batch = getFindingsBatch
	}
	byID := map[string]types.Finding{}
	for i := 0; i < len(order); i += batch {
		ids := order[i:min(i+batch, len(order))]
		resp, err := c.Findings.GetFindings(ctx, &guardduty.GetFindingsInput{DetectorId: aws.String(detectorID), FindingIds: ids})
		if err != nil {
			if _, err := c.refused(out, "guardduty:GetFindings", fmt.Sprintf("%d related findings of detector %s", len(order), detectorID), err); err != nil {
				return err
			}
			return nil
		}
		for _, f := range resp.Findings {
			byID[aws.ToString(f.Id)] = f
		}
	}
	doc := relatedDoc{DetectorId: detectorID, MatchedBy: map[string][]string{}}
	var missing []string
	var first, last *time.Time
	for _, id := range order {
		f, ok := byID[id]
		if !ok {
			missing = append(missing, id)
			continue
		}
		doc.Findings = append(doc.Findings, f)
		doc.MatchedBy[id] = matched[id]
		for _, s := range []*string{f.CreatedAt, f.UpdatedAt, serviceTime(f, true), serviceTime(f, false)} {
			t, ok := parseTime(s)
			if !ok {
				continue
			}
			if first == nil || t.Before(*first) {
				first = &t
			}
			if last == nil || t.After(*last) {
				last = &t
			}
		}
	}
	if len(missing) > 0 {
		out.Warn("%d related findings listed but not returned by GetFindings (deleted or archived since?): %s", len(missing), strings.Join(missing, ", "))
	}
	if len(doc.Findings) == 0 {
		out.Warn("no related findings: GetFindings returned none of the %d listed", len(order))
		return nil
	}
	meta := out.Meta("guardduty:ListFindings,guardduty:GetFindings", map[string]any{
		"DetectorId":      detectorID,
		"FindingCriteria": calls,
		"MaxResults":      listFindingsPage,
		"FindingIds":      order,
	}, &evidence.Origin{FindingID: exclude, Description: "detector " + detectorID})
	meta.Records, meta.FirstEvent, meta.LastEvent = int64(len(doc.Findings)), first, last
	meta.ContentType = evidence.ContentTypeJSON
	_, err := out.PutJSON(ctx, "related.json", doc, meta)
	return err
}

// detector returns this region's GuardDuty detector, for a run that names
// none (a manual start). No detector is a gap.
func (c *FindingCollector) detector(ctx context.Context, out *collect.Output, region string) (string, error) {
	p := guardduty.NewListDetectorsPaginator(c.Findings, &guardduty.ListDetectorsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			_, err := c.refused(out, "guardduty:ListDetectors", "region "+or(region, "of this deployment"), err)
			return "", err
		}
		for _, id := range page.DetectorIds {
			if id != "" {
				return id, nil
			}
		}
	}
	out.Gap("no related GuardDuty findings: GuardDuty has no detector in region "+or(region, "of this deployment"),
		"enable Amazon GuardDuty in this account and region")
	return "", nil
}

// refused turns an error of a related-findings call into what the
// collector does with it, by its class (faults.Of): throttled or transient
// is returned (the state machine retries the collector); denied or
// unimplemented (the emulator lacks ListFindings) is a gap and stops the
// lookup (stop); a detector this account does not own is a gap and stops;
// any other refusal (a bad criterion) is a gap for this call only; an
// error that is not the service's answer is returned.
func (c *FindingCollector) refused(out *collect.Output, op, what string, err error) (stop bool, _ error) {
	f := faults.Of(op, err)
	if r := f.Retryable(); r != nil {
		return true, r
	}
	switch f.Class {
	case faults.Unimplemented:
		out.Gap(fmt.Sprintf("related GuardDuty findings: %s for %s: the endpoint does not implement it (HTTP %d)", op, what, f.Status),
			"collect against AWS GuardDuty; the local emulator does not implement ListFindings or GetFindings")
		return true, nil
	case faults.Denied:
		out.Gap(fmt.Sprintf("related GuardDuty findings: %s for %s denied: %s", op, what, f.Message),
			"grant guardduty:ListDetectors, guardduty:ListFindings and guardduty:GetFindings to the guardduty collector's role")
		return true, nil
	case faults.InvalidRequest:
		// A detector this account does not own (a finding of another
		// account or region) refuses every lookup alike: one gap says so.
		stop = strings.Contains(strings.ToLower(f.Message), "detector")
		out.Gap(fmt.Sprintf("related GuardDuty findings: %s for %s refused: %s: %s", op, what, f.Code, f.Message),
			"see the error; a finding of another account or region needs that account's and region's detector (collecting across accounts from the GuardDuty administrator comes later)")
		return stop, nil
	}
	return true, fmt.Errorf("%s for %s: %w", op, what, err)
}

func serviceTime(f types.Finding, first bool) *string {
	if f.Service == nil {
		return nil
	}
	if first {
		return f.Service.EventFirstSeen
	}
	return f.Service.EventLastSeen
}

func parseTime(s *string) (time.Time, bool) {
	if s == nil || *s == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// describe names the criteria for a warning.
func describe(cs []criterion) string {
	var parts []string
	for _, c := range cs {
		parts = append(parts, c.String())
	}
	return strings.Join(parts, ", ")
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
