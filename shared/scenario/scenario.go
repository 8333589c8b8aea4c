// Package scenario seeds a local AWS emulator (moto_server) with a
// compromised environment described by a seed folder, so that the local run
// (make demo, make investigate) and tests can collect real-looking evidence.
//
// # The seed folder
//
//	<dir>/scenario.json               what to create, by name (below)
//	<dir>/s3/<bucket>/<key...>        objects, put byte for byte (real log files as AWS delivers them)
//	<dir>/logs/<group>/<stream>.jsonl CloudWatch Logs events, one {"timestamp": <epoch ms>, "message": "..."} a line
//	<dir>/finding.json                (by convention) the finding to send; rewrite it with (*Seeded).Rewrite
//
// The emulator chooses resource IDs, so files refer to resources by name
// through placeholders, replaced after the resources exist and before the
// upload, in file contents (gzip files are decompressed, rewritten and
// recompressed), in object keys and stream names, in table items, Inspector2
// findings and the finding file:
//
//	{{account}} {{region}}
//	{{vpc:NAME}} {{subnet:NAME}} {{sg:NAME}} {{instance:NAME}} {{eni:NAME}}
//	{{privateip:NAME}} {{publicip:NAME}}   (an instance's or a named ENI's)
//	{{accesskey:USER}} {{accesskey:USER:N}} (the user's first, or Nth, access key ID)
//	{{role:NAME}} {{instanceprofile:NAME}}  (ARNs)
//	{{flowlog:NAME}}                        (a named flow log's ID)
//	{{kms:TRAIL}}                           (the ARN of the key made for a trail with "kms": true)
//	{{epochms:OFFSET}} {{epoch:OFFSET}}     (now plus a Go duration, e.g. -90m, in epoch ms / s)
//
// A placeholder is "{{", a lower-case kind, optionally ":" and an argument,
// then "}}", with no spaces; anything else (Go templates, "{{ x }}") is left
// alone. An unknown placeholder is an error naming it and the file. A file
// with no placeholder is uploaded unchanged; a rewritten file is derived
// (Seeded.Rewritten lists them, and a seed folder says so in its README).
//
// # scenario.json
//
// Every list is optional. Names are the seed folder's own and must be unique
// per kind. Apply creates, in this order:
//
//	{
//	  "iam": {
//	    "policies": [{"name": "read-data", "document": {...policy JSON...}}],
//	    "roles": [{"name": "web-role", "assumeRolePolicy": {...} (default: EC2 may assume),
//	               "policies": [{"name": "inline", "document": {...}}],
//	               "attachedPolicies": ["read-data" | "arn:aws:iam::aws:policy/..."],
//	               "instanceProfile": true}],
//	    "users": [{"name": "alice", "accessKeys": 1 | [{"status": "Inactive"}, ...],
//	               "policies": [...], "attachedPolicies": [...]}]
//	  },
//	  "buckets": [{"name": "b", "versioning": true, "objectLock": true, "policy": {...}}],
//	  "vpcs": [{"name": "prod", "cidr": "10.0.0.0/16"}],
//	  "subnets": [{"name": "app", "vpc": "prod", "cidr": "10.0.1.0/24", "az": "us-east-1a", "mapPublicIp": true}],
//	  "securityGroups": [{"name": "web-sg", "vpc": "prod", "description": "...",
//	                      "ingress": [{"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidr": "0.0.0.0/0"}]}],
//	  "instances": [{"name": "web", "subnet": "app", "imageId": "ami-...", "instanceType": "t3.micro",
//	                 "privateIp": "10.0.1.10", "iamInstanceProfile": "web-role", "securityGroups": ["web-sg"],
//	                 "tags": {"k": "v"}, "userData": "#!/bin/sh ..."}],
//	  "networkInterfaces": [{"name": "web-2", "subnet": "app", "privateIp": "...", "securityGroups": [...],
//	                         "attachTo": "web"}],
//	  "logGroups": [{"name": "/vpc/flow", "retentionDays": 30}],
//	  "flowLogs": [{"name": "prod-s3", "resource": "{{vpc:prod}}", "destinationType": "s3",
//	                "destination": "bucket[/prefix]", "logFormat": "${version} ...", "trafficType": "ALL",
//	                "maxAggregationInterval": 600},
//	               {"resource": "{{eni:web}}", "destinationType": "cloud-watch-logs", "destination": "/vpc/flow",
//	                "deliverLogsPermissionArn": "arn:..."}],
//	  "trails": [{"name": "main", "bucket": "trail-bucket", "prefix": "p", "kmsKeyId": "arn:..." | "kms": true,
//	              "isOrganizationTrail": false, "multiRegion": true}],
//	  "bucketLogging": [{"bucket": "data", "targetBucket": "logs", "targetPrefix": "data/", "partitioned": false}],
//	  "tables": [{"name": "orders", "hashKey": "id", "hashKeyType": "S", "rangeKey": "ts", "rangeKeyType": "N",
//	              "streamViewType": "NEW_AND_OLD_IMAGES",
//	              "items": [{"id": {"S": "1"}} (DynamoDB JSON) | {"id": "1", "n": 2} (plain JSON)]}],
//	  "inspector2Findings": [{...an Inspector2 finding as ListFindings returns it...}],
//	  "timeShift": {"anchor": "2024-08-02T00:00:00Z", "daysAgo": 1, "withinDays": 60}
//	}
//
// # Time shift
//
// With "timeShift", Apply moves every time in the seed folder by a whole
// number of days Δ = (UTC midnight today − daysAgo days) − the anchor's day,
// so that the incident lands daysAgo days ago at the same time of day: in
// file contents (gzip too), object keys, stream names, table items,
// Inspector2 findings and the finding (Seeded.Rewrite), before placeholders
// are replaced. Shifted files are derived (Seeded.Rewritten); Seeded.Shift is
// the Shifter applied. The Shifter type lists the forms recognised (ISO 8601,
// compact 20240802T0825Z, 2024/08/02 folders, S3 access log times, epoch
// seconds and milliseconds, ...); only times within withinDays (default 60)
// of the anchor move, so ports, byte counts and policy versions stay.
//
// Resources referenced but not declared are created with defaults: buckets
// named by trails, flow logs, bucket logging or an s3/ folder, and log groups
// named by flow logs or a logs/ folder. A flow log resource is written
// "{{vpc:NAME}}", "{{subnet:NAME}}" or "{{eni:NAME}}" (or without the
// braces). A bucket logging target gets a bucket policy that lets
// logging.s3.amazonaws.com put objects, unless it declares its own.
// Inspector2 finding timestamps may be RFC 3339 strings (keys ending in "At");
// they are sent as the epoch seconds the API uses.
//
// Emulator (moto 5.2) behaviour this package works around or reports:
//   - a flow log S3 destination with a prefix is refused (moto looks up
//     "bucket/prefix" as a bucket): Apply retries without the prefix and adds a
//     warning, so deliveries are expected at the bucket root;
//   - CloudWatch Logs accepts only events from the last 14 days up to 2 hours
//     ahead (as AWS does): older events are refused, which Apply reports as a
//     LogEventsRejectedError; use a timeShift, or {{epochms:-1h}}, for events
//     that must land;
//   - Inspector2 ListFindings returns a queued page to the first call with a
//     new parameter set and ignores filterCriteria: Apply queues the findings
//     InspectorRepeat times, so that many distinct queries each see them all;
//   - PutBucketLogging keeps TargetObjectKeyFormat but GetBucketLogging does
//     not return it, and moto's own access log objects use simple keys;
//   - trails write no logs and flow logs deliver nothing: the s3/ and logs/
//     folders are the logs.
package scenario

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// InspectorRepeat is how many times Apply queues the Inspector2 findings page
// in the emulator (see the package comment).
const InspectorRepeat = 8

// FileName is the scenario file's name inside a seed folder.
const FileName = "scenario.json"

// Scenario is scenario.json: what to create in the emulator before a run.
type Scenario struct {
	IAM                IAM               `json:"iam"`
	Buckets            []Bucket          `json:"buckets"`
	VPCs               []VPC             `json:"vpcs"`
	Subnets            []Subnet          `json:"subnets"`
	SecurityGroups     []SecurityGroup   `json:"securityGroups"`
	Instances          []Instance        `json:"instances"`
	NetworkInterfaces  []NetworkIface    `json:"networkInterfaces"`
	LogGroups          []LogGroup        `json:"logGroups"`
	FlowLogs           []FlowLog         `json:"flowLogs"`
	Trails             []Trail           `json:"trails"`
	BucketLogging      []BucketLogging   `json:"bucketLogging"`
	Tables             []Table           `json:"tables"`
	Inspector2Findings []json.RawMessage `json:"inspector2Findings"`
	// TimeShift, when set, moves every time in the seed folder by whole
	// days so that the anchor day lands DaysAgo days before the run.
	TimeShift *TimeShift `json:"timeShift"`
	// Accounts are other accounts of an organization (members, the log
	// archive), each a seed folder of its own applied with that account's
	// credentials in its region (accounts.go).
	Accounts []Account `json:"accounts"`
}

// IAM holds the managed policies, roles and users to create.
type IAM struct {
	Policies []Policy `json:"policies"`
	Roles    []Role   `json:"roles"`
	Users    []User   `json:"users"`
}

// Policy is a named policy document (managed or inline).
type Policy struct {
	Name     string          `json:"name"`
	Document json.RawMessage `json:"document"`
}

// Role is an IAM role, optionally with an instance profile of the same name.
type Role struct {
	Name             string          `json:"name"`
	AssumeRolePolicy json.RawMessage `json:"assumeRolePolicy"`
	Policies         []Policy        `json:"policies"`
	AttachedPolicies []string        `json:"attachedPolicies"`
	InstanceProfile  bool            `json:"instanceProfile"`
}

// User is an IAM user with access keys and policies.
type User struct {
	Name             string     `json:"name"`
	AccessKeys       AccessKeys `json:"accessKeys"`
	Policies         []Policy   `json:"policies"`
	AttachedPolicies []string   `json:"attachedPolicies"`
}

// AccessKeys is written as a count or as a list of keys.
type AccessKeys []AccessKey

// AccessKey is one access key to create; Status is Active (default) or Inactive.
type AccessKey struct {
	Status string `json:"status"`
}

// UnmarshalJSON accepts a number (that many active keys) or a list.
func (k *AccessKeys) UnmarshalJSON(b []byte) error {
	var n int
	if err := json.Unmarshal(b, &n); err == nil {
		if n < 0 || n > 2 {
			return fmt.Errorf("accessKeys: %d keys (IAM allows 0 to 2)", n)
		}
		*k = make(AccessKeys, n)
		return nil
	}
	var list []AccessKey
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("accessKeys: want a number or a list of {\"status\"}: %w", err)
	}
	*k = list
	return nil
}

// Bucket is an S3 bucket.
type Bucket struct {
	Name       string          `json:"name"`
	Versioning bool            `json:"versioning"`
	ObjectLock bool            `json:"objectLock"`
	Policy     json.RawMessage `json:"policy"`
}

// VPC is a VPC by name.
type VPC struct {
	Name string `json:"name"`
	CIDR string `json:"cidr"`
}

// Subnet is a subnet of a named VPC.
type Subnet struct {
	Name        string `json:"name"`
	VPC         string `json:"vpc"`
	CIDR        string `json:"cidr"`
	AZ          string `json:"az"`
	MapPublicIP bool   `json:"mapPublicIp"`
}

// SecurityGroup is a security group of a named VPC.
type SecurityGroup struct {
	Name        string        `json:"name"`
	VPC         string        `json:"vpc"`
	Description string        `json:"description"`
	Ingress     []IngressRule `json:"ingress"`
}

// IngressRule is one ingress permission.
type IngressRule struct {
	Protocol string `json:"protocol"`
	FromPort int32  `json:"fromPort"`
	ToPort   int32  `json:"toPort"`
	CIDR     string `json:"cidr"`
}

// Instance is an EC2 instance in a named subnet. Its primary ENI is named
// like the instance ({{eni:NAME}}).
type Instance struct {
	Name               string            `json:"name"`
	Subnet             string            `json:"subnet"`
	ImageID            string            `json:"imageId"`
	InstanceType       string            `json:"instanceType"`
	PrivateIP          string            `json:"privateIp"`
	IAMInstanceProfile string            `json:"iamInstanceProfile"`
	SecurityGroups     []string          `json:"securityGroups"`
	Tags               map[string]string `json:"tags"`
	UserData           string            `json:"userData"`
}

// NetworkIface is an extra, named ENI, optionally attached to an instance.
type NetworkIface struct {
	Name           string   `json:"name"`
	Subnet         string   `json:"subnet"`
	PrivateIP      string   `json:"privateIp"`
	SecurityGroups []string `json:"securityGroups"`
	AttachTo       string   `json:"attachTo"`
}

// LogGroup is a CloudWatch Logs group.
type LogGroup struct {
	Name          string `json:"name"`
	RetentionDays int32  `json:"retentionDays"`
}

// FlowLog is a VPC flow log definition.
type FlowLog struct {
	Name                     string `json:"name"`
	Resource                 string `json:"resource"`
	DestinationType          string `json:"destinationType"`
	Destination              string `json:"destination"`
	LogFormat                string `json:"logFormat"`
	TrafficType              string `json:"trafficType"`
	MaxAggregationInterval   int32  `json:"maxAggregationInterval"`
	DeliverLogsPermissionArn string `json:"deliverLogsPermissionArn"`
}

// Trail is a CloudTrail trail, started after creation.
type Trail struct {
	Name                string `json:"name"`
	Bucket              string `json:"bucket"`
	Prefix              string `json:"prefix"`
	KMSKeyID            string `json:"kmsKeyId"`
	KMS                 bool   `json:"kms"`
	IsOrganizationTrail bool   `json:"isOrganizationTrail"`
	MultiRegion         bool   `json:"multiRegion"`
	// LogFileValidation (default true) turns the trail's log file
	// validation on, and the seeded log files in its bucket get digests;
	// false drills a trail without them.
	LogFileValidation *bool `json:"logFileValidation"`
}

// Validates reports whether the trail validates its log files.
func (t Trail) Validates() bool { return t.LogFileValidation == nil || *t.LogFileValidation }

// BucketLogging is a bucket's server access logging configuration.
type BucketLogging struct {
	Bucket       string `json:"bucket"`
	TargetBucket string `json:"targetBucket"`
	TargetPrefix string `json:"targetPrefix"`
	Partitioned  bool   `json:"partitioned"`
}

// Table is a DynamoDB table with a stream, and the items to put in it.
type Table struct {
	Name           string            `json:"name"`
	HashKey        string            `json:"hashKey"`
	HashKeyType    string            `json:"hashKeyType"`
	RangeKey       string            `json:"rangeKey"`
	RangeKeyType   string            `json:"rangeKeyType"`
	StreamViewType string            `json:"streamViewType"`
	Items          []json.RawMessage `json:"items"`
}

// Load reads <dir>/scenario.json (strictly: an unknown field is an error) and
// checks it: names present and unique, references to names that exist.
func Load(dir string) (*Scenario, error) {
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	var sc Scenario
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sc); err != nil {
		return nil, fmt.Errorf("scenario: %s: %w", filepath.Join(dir, FileName), err)
	}
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	if err := sc.loadAccounts(dir); err != nil {
		return nil, err
	}
	return &sc, nil
}

// EntryError names the scenario entry that failed: its list, index and name.
type EntryError struct {
	List  string // e.g. "instances", "iam.users"
	Index int
	Name  string
	Err   error
}

func (e *EntryError) Error() string {
	return fmt.Sprintf("scenario: %s[%d] %q: %v", e.List, e.Index, e.Name, e.Err)
}

func (e *EntryError) Unwrap() error { return e.Err }

func entryErr(list string, i int, name string, format string, args ...any) error {
	return &EntryError{List: list, Index: i, Name: name, Err: fmt.Errorf(format, args...)}
}

var refRe = regexp.MustCompile(`^\{?\{?(vpc|subnet|eni):([^{}]+?)\}?\}?$`)

// parseRef reads a flow log resource reference: "{{vpc:NAME}}" or "vpc:NAME".
func parseRef(s string) (kind, name string, ok bool) {
	m := refRe.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

// Validate checks names and references without touching the emulator.
func (sc *Scenario) Validate() error {
	seen := map[string]map[string]bool{}
	uniq := func(list string, i int, name string) error {
		if name == "" {
			return entryErr(list, i, name, "name is required")
		}
		if seen[list] == nil {
			seen[list] = map[string]bool{}
		}
		if seen[list][name] {
			return entryErr(list, i, name, "duplicate name")
		}
		seen[list][name] = true
		return nil
	}
	for i, p := range sc.IAM.Policies {
		if err := uniq("iam.policies", i, p.Name); err != nil {
			return err
		}
		if len(p.Document) == 0 {
			return entryErr("iam.policies", i, p.Name, "document is required")
		}
	}
	profiles := map[string]bool{}
	for i, r := range sc.IAM.Roles {
		if err := uniq("iam.roles", i, r.Name); err != nil {
			return err
		}
		profiles[r.Name] = r.InstanceProfile
	}
	for i, u := range sc.IAM.Users {
		if err := uniq("iam.users", i, u.Name); err != nil {
			return err
		}
	}
	for i, b := range sc.Buckets {
		if err := uniq("buckets", i, b.Name); err != nil {
			return err
		}
	}
	for i, v := range sc.VPCs {
		if err := uniq("vpcs", i, v.Name); err != nil {
			return err
		}
		if v.CIDR == "" {
			return entryErr("vpcs", i, v.Name, "cidr is required")
		}
	}
	for i, s := range sc.Subnets {
		if err := uniq("subnets", i, s.Name); err != nil {
			return err
		}
		if !seen["vpcs"][s.VPC] {
			return entryErr("subnets", i, s.Name, "vpc %q is not in vpcs", s.VPC)
		}
		if s.CIDR == "" {
			return entryErr("subnets", i, s.Name, "cidr is required")
		}
	}
	for i, g := range sc.SecurityGroups {
		if err := uniq("securityGroups", i, g.Name); err != nil {
			return err
		}
		if !seen["vpcs"][g.VPC] {
			return entryErr("securityGroups", i, g.Name, "vpc %q is not in vpcs", g.VPC)
		}
	}
	sgs := func(list string, i int, name string, groups []string) error {
		for _, g := range groups {
			if !seen["securityGroups"][g] {
				return entryErr(list, i, name, "security group %q is not in securityGroups", g)
			}
		}
		return nil
	}
	for i, in := range sc.Instances {
		if err := uniq("instances", i, in.Name); err != nil {
			return err
		}
		if !seen["subnets"][in.Subnet] {
			return entryErr("instances", i, in.Name, "subnet %q is not in subnets", in.Subnet)
		}
		if in.IAMInstanceProfile != "" && !profiles[in.IAMInstanceProfile] {
			return entryErr("instances", i, in.Name, "iamInstanceProfile %q is not a role in iam.roles with \"instanceProfile\": true", in.IAMInstanceProfile)
		}
		if err := sgs("instances", i, in.Name, in.SecurityGroups); err != nil {
			return err
		}
	}
	for i, n := range sc.NetworkInterfaces {
		if seen["instances"][n.Name] {
			return entryErr("networkInterfaces", i, n.Name, "name already names an instance's primary ENI")
		}
		if err := uniq("networkInterfaces", i, n.Name); err != nil {
			return err
		}
		if !seen["subnets"][n.Subnet] {
			return entryErr("networkInterfaces", i, n.Name, "subnet %q is not in subnets", n.Subnet)
		}
		if n.AttachTo != "" && !seen["instances"][n.AttachTo] {
			return entryErr("networkInterfaces", i, n.Name, "attachTo %q is not in instances", n.AttachTo)
		}
		if err := sgs("networkInterfaces", i, n.Name, n.SecurityGroups); err != nil {
			return err
		}
	}
	for i, g := range sc.LogGroups {
		if err := uniq("logGroups", i, g.Name); err != nil {
			return err
		}
	}
	for i, f := range sc.FlowLogs {
		name := f.Name
		if name == "" {
			name = f.Resource
		} else if err := uniq("flowLogs", i, f.Name); err != nil {
			return err
		}
		kind, ref, ok := parseRef(f.Resource)
		if !ok {
			return entryErr("flowLogs", i, name, "resource %q: want {{vpc:NAME}}, {{subnet:NAME}} or {{eni:NAME}}", f.Resource)
		}
		switch kind {
		case "vpc":
			ok = seen["vpcs"][ref]
		case "subnet":
			ok = seen["subnets"][ref]
		case "eni":
			ok = seen["instances"][ref] || seen["networkInterfaces"][ref]
		}
		if !ok {
			return entryErr("flowLogs", i, name, "resource %q names no %s in the scenario", f.Resource, kind)
		}
		switch f.DestinationType {
		case "s3", "cloud-watch-logs":
		default:
			return entryErr("flowLogs", i, name, "destinationType %q: want s3 or cloud-watch-logs", f.DestinationType)
		}
		if f.Destination == "" {
			return entryErr("flowLogs", i, name, "destination is required (bucket[/prefix] or log group name)")
		}
	}
	for i, t := range sc.Trails {
		if err := uniq("trails", i, t.Name); err != nil {
			return err
		}
		if t.Bucket == "" {
			return entryErr("trails", i, t.Name, "bucket is required")
		}
		if t.KMS && t.KMSKeyID != "" {
			return entryErr("trails", i, t.Name, "set kms or kmsKeyId, not both")
		}
	}
	for i, l := range sc.BucketLogging {
		if l.Bucket == "" || l.TargetBucket == "" {
			return entryErr("bucketLogging", i, l.Bucket, "bucket and targetBucket are required")
		}
	}
	for i, t := range sc.Tables {
		if err := uniq("tables", i, t.Name); err != nil {
			return err
		}
		if t.HashKey == "" {
			return entryErr("tables", i, t.Name, "hashKey is required")
		}
		for _, typ := range []string{t.HashKeyType, t.RangeKeyType} {
			switch typ {
			case "", "S", "N", "B":
			default:
				return entryErr("tables", i, t.Name, "key type %q: want S, N or B", typ)
			}
		}
	}
	if sc.TimeShift != nil {
		if err := sc.TimeShift.validate(); err != nil {
			return fmt.Errorf("scenario: timeShift: %w", err)
		}
	}
	for i, f := range sc.Inspector2Findings {
		var m map[string]any
		if err := json.Unmarshal(f, &m); err != nil {
			return entryErr("inspector2Findings", i, "", "not a JSON object: %v", err)
		}
	}
	return nil
}
