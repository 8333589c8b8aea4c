package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/inspector2"
	"github.com/aws/aws-sdk-go-v2/service/inspector2/types"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/incident"
)

// findingLister is the one Amazon Inspector call the collector makes.
type findingLister interface {
	inspector2.ListFindingsAPIClient
}

// pageSize is the most findings ListFindings returns a page.
const pageSize = 100

// FindingCollector stores the Amazon Inspector (v2) findings for what the
// incident touches: each instance, its AMI, each Lambda function and each
// ECR container image in scope. Inspector findings describe the resource's
// vulnerabilities and exposure now, not events in the window: every status
// (active, suppressed, closed) is kept, whatever its time.
type FindingCollector struct {
	Inspector findingLister
}

// Name implements collect.Collector.
func (c *FindingCollector) Name() string { return incident.CollectorInspector }

// Source implements collect.Collector.
func (c *FindingCollector) Source() string { return evidence.SourceInspector }

// query is one ListFindings lookup: the resource it is for and its filter.
type query struct {
	What   string // "instance i-…", "AMI ami-…", …
	Filter *types.FilterCriteria
}

func equals(v string) []types.StringFilter {
	return []types.StringFilter{{Comparison: types.StringComparisonEquals, Value: aws.String(v)}}
}

var (
	amiRe = regexp.MustCompile(`^ami-[0-9a-f]{8,17}$`)
	// An ECR image URI: registry/repository[:tag][@digest].
	ecrURIRe = regexp.MustCompile(`^([0-9]{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/([a-z0-9][a-z0-9._/-]*?)(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(sha256:[0-9a-f]{64}))?$`)
	// An ECR image ARN, as Inspector names the resource:
	// arn:aws:ecr:region:account:repository/name/sha256:digest.
	ecrArnRe = regexp.MustCompile(`^arn:[a-z-]+:ecr:[a-z0-9-]+:[0-9]{12}:repository/.+/sha256:[0-9a-f]{64}$`)
)

// queries builds one lookup per resource in scope Inspector scans, and
// says which images it cannot look up.
func queries(sc incident.Scope) (qs []query, skipped []string) {
	for _, id := range sc.Instances {
		qs = append(qs, query{"instance " + id, &types.FilterCriteria{ResourceId: equals(id)}})
	}
	for _, fn := range sc.Functions {
		name := fn
		if a, err := arn.Parse(fn); err == nil && a.Service == "lambda" {
			// function:name[:qualifier]
			parts := strings.Split(a.Resource, ":")
			if len(parts) >= 2 && parts[0] == "function" {
				name = parts[1]
			}
		}
		qs = append(qs, query{"Lambda function " + fn, &types.FilterCriteria{LambdaFunctionName: equals(name)}})
	}
	for _, img := range sc.Images {
		switch m := ecrURIRe.FindStringSubmatch(img); {
		case amiRe.MatchString(img):
			qs = append(qs, query{"AMI " + img, &types.FilterCriteria{Ec2InstanceImageId: equals(img)}})
		case ecrArnRe.MatchString(img):
			qs = append(qs, query{"container image " + img, &types.FilterCriteria{ResourceId: equals(img)}})
		case m != nil:
			f := &types.FilterCriteria{EcrImageRepositoryName: equals(m[3])}
			switch {
			case m[5] != "":
				f.EcrImageHash = equals(m[5])
			case m[4] != "":
				f.EcrImageTags = equals(m[4])
			}
			qs = append(qs, query{"container image " + img, f})
		default:
			skipped = append(skipped, img)
		}
	}
	return qs, skipped
}

// findingsDoc is findings.json: the findings (the SDK's structs marshal
// with the API's member names), once each, and which lookups found each.
type findingsDoc struct {
	Findings []types.Finding
	// MatchedBy maps a finding ARN to the lookups that returned it.
	MatchedBy map[string][]string
}

// Collect implements collect.Collector.
func (c *FindingCollector) Collect(ctx context.Context, inc *incident.Incident, out *collect.Output) error {
	qs, skipped := queries(inc.Scope)
	for _, img := range skipped {
		out.Warn("container image %s is not an Amazon ECR image (or an AMI): Inspector scans ECR images only; it was not looked up", img)
	}
	if len(qs) == 0 {
		out.Warn("no Inspector findings looked up: no instance, AMI, Lambda function or ECR image in scope")
		return nil
	}
	doc := findingsDoc{MatchedBy: map[string][]string{}}
	var sent []any
	var first, last *time.Time
	for _, q := range qs {
		in := &inspector2.ListFindingsInput{FilterCriteria: q.Filter, MaxResults: aws.Int32(pageSize)}
		sent = append(sent, collect.Request(q.Filter))
		p := inspector2.NewListFindingsPaginator(c.Inspector, in)
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				stop, err := refused(out, q.What, err)
				if err != nil {
					return err
				}
				if stop {
					return nil
				}
				break
			}
			for _, f := range page.Findings {
				key := aws.ToString(f.FindingArn)
				if _, seen := doc.MatchedBy[key]; !seen {
					doc.Findings = append(doc.Findings, f)
					widen(&first, &last, f)
				}
				if m := doc.MatchedBy[key]; len(m) == 0 || m[len(m)-1] != q.What {
					doc.MatchedBy[key] = append(m, q.What)
				}
			}
		}
	}
	if len(doc.Findings) == 0 {
		var whats []string
		for _, q := range qs {
			whats = append(whats, q.What)
		}
		out.Warn("no Inspector findings for %s", strings.Join(whats, ", "))
		return nil
	}
	meta := out.Meta("inspector2:ListFindings", map[string]any{"filterCriteria": sent, "maxResults": pageSize}, nil)
	meta.Records, meta.FirstEvent, meta.LastEvent = int64(len(doc.Findings)), first, last
	meta.ContentType = evidence.ContentTypeJSON
	_, err := out.PutJSON(ctx, "findings.json", doc, meta)
	return err
}

// widen grows [first, last] by a finding's own times.
func widen(first, last **time.Time, f types.Finding) {
	for _, t := range []*time.Time{f.FirstObservedAt, f.LastObservedAt, f.UpdatedAt} {
		if t == nil || t.IsZero() {
			continue
		}
		u := t.UTC()
		if *first == nil || u.Before(**first) {
			*first = &u
		}
		if *last == nil || u.After(**last) {
			*last = &u
		}
	}
}

// enableFix is what to do when Inspector is off or the call is denied.
const enableFix = "enable Amazon Inspector for EC2/Lambda/ECR scanning in this account and region (inspector2:Enable), and grant inspector2:ListFindings to the inspector collector's role"

// refused turns a ListFindings error into what the collector does with
// it, by its class (faults.Of): throttled or transient is returned (the
// state machine retries the collector); denied, unimplemented or Inspector
// not enabled is a gap and stops (stop); any other refusal is a gap for
// this lookup; an error that is not the service's answer is returned.
func refused(out *collect.Output, what string, err error) (stop bool, _ error) {
	const op = "inspector2:ListFindings"
	f := faults.Of(op, err)
	if r := f.Retryable(); r != nil {
		return true, r
	}
	msg := strings.ToLower(f.Message)
	switch {
	case f.Class == faults.Denied:
		out.Gap(fmt.Sprintf("Inspector findings: %s for %s denied (or Amazon Inspector is not enabled): %s", op, what, f.Message), enableFix)
		return true, nil
	case f.Class == faults.Unimplemented:
		out.Gap(fmt.Sprintf("Inspector findings: %s for %s: the endpoint does not implement it (HTTP %d)", op, what, f.Status),
			"collect against AWS Inspector; the endpoint (the local emulator) does not implement "+op)
		return true, nil
	case f.Class != faults.InvalidRequest:
		return true, fmt.Errorf("%s for %s: %w", op, what, err)
	case strings.Contains(msg, "not enabled") || strings.Contains(msg, "not activated") || strings.Contains(msg, "does not have access"):
		out.Gap(fmt.Sprintf("Inspector findings: Amazon Inspector is not enabled: %s for %s: %s: %s", op, what, f.Code, f.Message), enableFix)
		return true, nil
	}
	out.Gap(fmt.Sprintf("Inspector findings: %s for %s refused: %s: %s", op, what, f.Code, f.Message),
		"see the error; the call can be made by hand with the filter in the manifest")
	return false, nil
}

// Handler is the collector Lambda.
type Handler struct {
	Driver    *collect.Driver
	Collector collect.Collector
}

// Handle runs the collector through the shared driver.
func (h *Handler) Handle(ctx context.Context, in collect.Input) (incident.Result, error) {
	return h.Driver.Run(ctx, h.Collector, in)
}
