package main

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/incident"
)

// Polling an Access Advisor job: the first wait, and the longest; the
// wait doubles in between.
const (
	firstPollDelay = time.Second
	maxPollDelay   = 16 * time.Second
	// lambdaMargin is the time kept, before the Lambda's own deadline, to
	// store what was collected and the result.
	lambdaMargin = 15 * time.Second
	// maxAdvisorPages bounds the pages read for one job.
	maxAdvisorPages = 1000
)

// granularity is the Access Advisor report level the collector asks for:
// per service, and per action where IAM tracks actions.
const granularity = iamtypes.AccessAdvisorUsageGranularityTypeActionLevel

// job is one principal's Access Advisor job.
type job struct {
	p       *principal
	arn     string
	id      string
	started time.Time
}

// generate starts the principal's Access Advisor job; nil when IAM refused
// (a gap says so).
func (c *PrincipalCollector) generate(ctx context.Context, out *collect.Output, p *principal, principalArn string) (*job, error) {
	started := c.now()
	resp, err := c.Advisor.GenerateServiceLastAccessedDetails(ctx, &iam.GenerateServiceLastAccessedDetailsInput{
		Arn: aws.String(principalArn), Granularity: granularity,
	})
	if err != nil {
		return nil, refused(out, "iam:GenerateServiceLastAccessedDetails", p.String()+" ("+principalArn+")", err)
	}
	if aws.ToString(resp.JobId) == "" {
		out.Gap(fmt.Sprintf("Access Advisor for %s (%s): GenerateServiceLastAccessedDetails returned no job ID", p, principalArn),
			"run `aws iam generate-service-last-accessed-details --arn "+principalArn+" --granularity ACTION_LEVEL` by hand")
		return nil, nil
	}
	return &job{p: p, arn: principalArn, id: aws.ToString(resp.JobId), started: started}, nil
}

// advisorPage is one GetServiceLastAccessedDetails answer, whole.
type advisorPage struct {
	JobStatus            iamtypes.JobStatusType
	JobType              iamtypes.AccessAdvisorUsageGranularityType `json:",omitempty"`
	JobCreationDate      *time.Time
	JobCompletionDate    *time.Time
	ServicesLastAccessed []iamtypes.ServiceLastAccessed
	IsTruncated          bool
	Marker               *string                `json:",omitempty"`
	Error                *iamtypes.ErrorDetails `json:",omitempty"`
}

// advisorDoc is access-advisor.json: the job and every page of its report.
type advisorDoc struct {
	Arn         string
	Granularity iamtypes.AccessAdvisorUsageGranularityType
	JobId       string
	Pages       []advisorPage
}

func pageOf(o *iam.GetServiceLastAccessedDetailsOutput) advisorPage {
	return advisorPage{
		JobStatus: o.JobStatus, JobType: o.JobType, JobCreationDate: o.JobCreationDate, JobCompletionDate: o.JobCompletionDate,
		ServicesLastAccessed: o.ServicesLastAccessed, IsTruncated: o.IsTruncated, Marker: o.Marker, Error: o.Error,
	}
}

// deadline is when the wait for j ends: the timeout after the job started,
// or earlier when the Lambda would be out of time first.
func (c *PrincipalCollector) deadline(ctx context.Context, j *job) time.Time {
	d := j.started.Add(c.timeout())
	if dl, ok := ctx.Deadline(); ok && dl.Add(-lambdaMargin).Before(d) {
		d = dl.Add(-lambdaMargin)
	}
	return d
}

// await polls j until it completes, fails or its time is up, with a
// growing wait between polls, and stores the report. A job that fails or
// does not complete in time is a gap naming the job.
func (c *PrincipalCollector) await(ctx context.Context, inc *incident.Incident, out *collect.Output, j *job) error {
	const op = "iam:GetServiceLastAccessedDetails"
	what := fmt.Sprintf("%s (%s), job %s", j.p, j.arn, j.id)
	deadline := c.deadline(ctx, j)
	delay := firstPollDelay
	var first *iam.GetServiceLastAccessedDetailsOutput
	for {
		resp, err := c.Advisor.GetServiceLastAccessedDetails(ctx, &iam.GetServiceLastAccessedDetailsInput{JobId: aws.String(j.id)})
		if err != nil {
			return refused(out, op, what, err)
		}
		if resp.JobStatus == iamtypes.JobStatusTypeCompleted {
			first = resp
			break
		}
		if resp.JobStatus == iamtypes.JobStatusTypeFailed {
			reason := "no reason given"
			if e := resp.Error; e != nil {
				reason = aws.ToString(e.Code) + ": " + aws.ToString(e.Message)
			}
			out.Gap(fmt.Sprintf("Access Advisor job %s for %s (%s) failed: %s", j.id, j.p, j.arn, reason),
				"run `aws iam generate-service-last-accessed-details --arn "+j.arn+" --granularity ACTION_LEVEL` again by hand, then get-service-last-accessed-details with the new job ID")
			return nil
		}
		now := c.now()
		if !now.Before(deadline) {
			out.Gap(fmt.Sprintf("Access Advisor job %s for %s (%s) did not complete within %s (last status %s)", j.id, j.p, j.arn, deadline.Sub(j.started).Round(time.Second), resp.JobStatus),
				"read the report by hand within 30 days: `aws iam get-service-last-accessed-details --job-id "+j.id+"`; or raise "+EnvAdvisorTimeout)
			return nil
		}
		wait := min(delay, deadline.Sub(now))
		if err := c.sleep(ctx, wait); err != nil {
			return faults.Classify(op, err, func(err error) error { return &faults.TransientError{Op: op, Err: err} })
		}
		delay = min(delay*2, maxPollDelay)
	}

	doc := advisorDoc{Arn: j.arn, Granularity: granularity, JobId: j.id, Pages: []advisorPage{pageOf(first)}}
	for resp := first; resp.IsTruncated; {
		marker := aws.ToString(resp.Marker)
		if marker == "" || len(doc.Pages) >= maxAdvisorPages {
			out.Warn("%s: the report says it is truncated but gives no marker (or has more than %d pages): %d pages kept", what, maxAdvisorPages, len(doc.Pages))
			break
		}
		next, err := c.Advisor.GetServiceLastAccessedDetails(ctx, &iam.GetServiceLastAccessedDetailsInput{JobId: aws.String(j.id), Marker: aws.String(marker)})
		if err != nil {
			// What was read is kept; the gap says the rest is missing.
			if err := refused(out, op, what+fmt.Sprintf(" (page %d)", len(doc.Pages)+1), err); err != nil {
				return err
			}
			break
		}
		doc.Pages = append(doc.Pages, pageOf(next))
		resp = next
	}
	return c.storeAdvisor(ctx, inc, out, j, &doc)
}

// advisorRecord is one line of access-advisor.jsonl.gz: a service's entry
// with the principal it is about, as the timeline reads it.
type advisorRecord struct {
	PrincipalArn string
	JobId        string
	iamtypes.ServiceLastAccessed
}

// storeAdvisor stores the report whole (access-advisor.json) and, for the
// timeline, the services last accessed within the window
// (access-advisor.jsonl.gz).
func (c *PrincipalCollector) storeAdvisor(ctx context.Context, inc *incident.Incident, out *collect.Output, j *job, doc *advisorDoc) error {
	req := map[string]any{"Arn": j.arn, "Granularity": string(granularity), "JobId": j.id}
	origin := originOf(j.p.String() + " (" + j.arn + ")")
	meta := out.Meta("iam:GetServiceLastAccessedDetails", req, origin)
	var inWindow []iamtypes.ServiceLastAccessed
	for _, pg := range doc.Pages {
		for _, s := range pg.ServicesLastAccessed {
			meta.Records++
			if s.LastAuthenticated == nil {
				continue
			}
			t := s.LastAuthenticated.UTC()
			if meta.FirstEvent == nil || t.Before(*meta.FirstEvent) {
				meta.FirstEvent = &t
			}
			if meta.LastEvent == nil || t.After(*meta.LastEvent) {
				meta.LastEvent = &t
			}
			if inc.Window.Contains(t) {
				inWindow = append(inWindow, s)
			}
		}
	}
	if _, err := out.PutJSON(ctx, c.artifact(j.p.Folder+"/access-advisor.json"), doc, meta); err != nil {
		return err
	}
	xmeta := out.Meta("iam:GetServiceLastAccessedDetails", req, origin)
	w, err := out.CreateGzip(c.artifact(j.p.Folder+"/access-advisor.jsonl.gz"), xmeta)
	if err != nil {
		return err
	}
	for _, s := range inWindow {
		if err := w.WriteRecord(advisorRecord{PrincipalArn: j.arn, JobId: j.id, ServiceLastAccessed: s}, s.LastAuthenticated.UTC()); err != nil {
			w.Abort()
			return err
		}
	}
	_, err = w.Close(ctx)
	return err
}
