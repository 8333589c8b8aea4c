package finding

import (
	"encoding/json"
	"net"
	"regexp"
	"strings"
	"time"
)

// The resource types a manual start knows. Any other type is accepted as
// given (the incident gets the generic plan and a warning).
const (
	ResourceInstance  = "Instance"
	ResourceAccessKey = "AccessKey"
	ResourcePrincipal = "Principal"
	ResourceS3Bucket  = "S3Bucket"
)

// manualTypes maps a lower-cased type (and its aliases) to its canonical name.
var manualTypes = map[string]string{
	"instance":    ResourceInstance,
	"ec2instance": ResourceInstance,
	"accesskey":   ResourceAccessKey,
	"principal":   ResourcePrincipal,
	"s3bucket":    ResourceS3Bucket,
	"bucket":      ResourceS3Bucket,
}

// ManualStart is a case started by hand on one resource and a time window:
//
//	{"resource": {"type": "Instance", "id": "i-0abc…", "accountId": "…", "region": "…"},
//	 "window": {"start": "2024-05-01T10:00:00Z", "end": "2024-05-01T18:00:00Z"},
//	 "reason": "free text"}
//
// The type matches without regard to case (instance, INSTANCE, s3bucket,
// bucket) and may be left out when the id shows it. The id is checked and
// normalised for the known types: an instance ID is "i-" and 8 to 17 hex
// digits (lower-cased); an access key ID is AKIA or ASIA and 16 letters or
// digits (upper-cased); a principal is an IAM or STS ARN (its account fills
// or must equal accountId); a bucket is a bucket name by today's naming rules
// (3–63 of a–z, 0–9, '.', '-', starting and ending with a letter or digit,
// not an IP address) or an S3 bucket ARN, reduced to the name.
type ManualStart struct {
	// ResourceType is the canonical type (Instance, AccessKey, Principal,
	// S3Bucket) or, for a type custody does not know, the type as given.
	ResourceType string `json:"resourceType"`
	ResourceID   string `json:"resourceId"`
	AccountID    string `json:"accountId,omitempty"`
	Region       string `json:"region,omitempty"`
	// Start and End bound the window asked for (UTC); End is after Start.
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Reason string    `json:"reason,omitempty"`
}

// KnownType reports whether m's resource type is one custody knows.
func (m *ManualStart) KnownType() bool {
	_, ok := manualTypes[strings.ToLower(m.ResourceType)]
	return ok
}

var (
	instanceIDRe   = regexp.MustCompile(`^i-[0-9a-f]{8,17}$`)
	accessKeyIDRe  = regexp.MustCompile(`^(AKIA|ASIA)[A-Z0-9]{16}$`)
	principalArnRe = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov|aws-iso[a-z-]*):(iam|sts)::([0-9]{12}):(root|(user|role|assumed-role|federated-user|group)/.+)$`)
	bucketArnRe    = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov|aws-iso[a-z-]*):s3:::(.+)$`)
	bucketNameRe   = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
)

type manualJSON struct {
	Resource *struct {
		Type      string `json:"type"`
		ID        string `json:"id"`
		AccountID string `json:"accountId"`
		Region    string `json:"region"`
	} `json:"resource"`
	Window *struct {
		Start Time `json:"start"`
		End   Time `json:"end"`
	} `json:"window"`
	Reason string `json:"reason"`
}

func parseManual(fields map[string]json.RawMessage) (*ManualStart, error) {
	raw, err := json.Marshal(fields)
	if err != nil {
		return nil, invalid("", "%v", err)
	}
	var in manualJSON
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, decodeError(err, "")
	}
	if in.Resource == nil {
		return nil, invalid("resource", "missing: a manual start names one resource")
	}
	m := &ManualStart{
		AccountID: strings.TrimSpace(in.Resource.AccountID),
		Region:    strings.TrimSpace(in.Resource.Region),
		Reason:    in.Reason,
	}
	id := strings.TrimSpace(in.Resource.ID)
	if id == "" {
		return nil, invalid("resource.id", "missing")
	}
	typ := strings.TrimSpace(in.Resource.Type)
	if typ == "" {
		typ = inferType(id)
		if typ == "" {
			return nil, invalid("resource.type", "missing, and the id %q does not show the type (Instance, AccessKey, Principal, S3Bucket)", shorten(id))
		}
	}
	if canon, ok := manualTypes[strings.ToLower(typ)]; ok {
		typ = canon
	}
	m.ResourceType = typ
	if m.AccountID != "" && !accountRe.MatchString(m.AccountID) {
		return nil, invalid("resource.accountId", "%q is not a 12-digit AWS account ID", shorten(m.AccountID))
	}
	if m.Region != "" && !regionRe.MatchString(m.Region) {
		return nil, invalid("resource.region", "%q is not an AWS region name", shorten(m.Region))
	}
	switch typ {
	case ResourceInstance:
		id = strings.ToLower(id)
		if !instanceIDRe.MatchString(id) {
			return nil, invalid("resource.id", "%q is not an EC2 instance ID (i- and 8 to 17 hex digits)", shorten(id))
		}
	case ResourceAccessKey:
		id = strings.ToUpper(id)
		if !accessKeyIDRe.MatchString(id) {
			return nil, invalid("resource.id", "%q is not an access key ID (AKIA or ASIA and 16 letters or digits)", shorten(id))
		}
	case ResourcePrincipal:
		sub := principalArnRe.FindStringSubmatch(id)
		if sub == nil {
			return nil, invalid("resource.id", "%q is not an IAM or STS principal ARN (arn:aws:iam::123456789012:user/name, …:role/name, arn:aws:sts::…:assumed-role/name/session)", shorten(id))
		}
		switch {
		case m.AccountID == "":
			m.AccountID = sub[3]
		case m.AccountID != sub[3]:
			return nil, invalid("resource.accountId", "%s is not the principal ARN's account %s", m.AccountID, sub[3])
		}
	case ResourceS3Bucket:
		if sub := bucketArnRe.FindStringSubmatch(id); sub != nil {
			id = sub[2]
		}
		if !validBucketName(id) {
			return nil, invalid("resource.id", "%q is not an S3 bucket name", shorten(id))
		}
	}
	m.ResourceID = id
	if in.Window == nil {
		return nil, invalid("window", "missing: a manual start needs {\"start\", \"end\"}")
	}
	if err := in.Window.Start.check("window.start"); err != nil {
		return nil, err
	}
	if err := in.Window.End.check("window.end"); err != nil {
		return nil, err
	}
	if in.Window.Start.IsZero() {
		return nil, invalid("window.start", "missing")
	}
	if in.Window.End.IsZero() {
		return nil, invalid("window.end", "missing")
	}
	m.Start, m.End = in.Window.Start.Time, in.Window.End.Time
	if m.End.Before(m.Start) {
		return nil, invalid("window.end", "%s is before window.start %s", m.End.Format(time.RFC3339Nano), m.Start.Format(time.RFC3339Nano))
	}
	if !m.End.After(m.Start) {
		return nil, invalid("window.end", "equals window.start: the window is empty")
	}
	return m, nil
}

// inferType returns the resource type an id shows, or "".
func inferType(id string) string {
	switch {
	case instanceIDRe.MatchString(strings.ToLower(id)):
		return ResourceInstance
	case accessKeyIDRe.MatchString(strings.ToUpper(id)):
		return ResourceAccessKey
	case principalArnRe.MatchString(id):
		return ResourcePrincipal
	case bucketArnRe.MatchString(id):
		return ResourceS3Bucket
	}
	return ""
}

func validBucketName(name string) bool {
	return bucketNameRe.MatchString(name) && !strings.Contains(name, "..") && net.ParseIP(name) == nil
}
