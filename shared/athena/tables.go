// Package athena defines the Glue tables Athena queries a case through: one
// per kind of extract (CloudTrail records, VPC flow records, S3 server access
// log records, the merged timeline). infra builds the Glue resources from
// these definitions, and the tests hold their columns to the extracts the
// collectors and Seal write, so a column cannot name a field nobody writes.
//
// Each table reads one folder per run, cases/<caseId>/runs/<runId>/athena/<table>/,
// and nothing else: an Athena table reads every object under its location
// (https://docs.aws.amazon.com/athena/latest/ug/tables-location-format.html),
// and the extracts share their folders with raw copies (cloudtrail/AWSLogs/...
// beside cloudtrail/extract.jsonl.gz) and bookkeeping (timeline.jsonl beside
// manifest.json), which the JSON SerDe would read as rows of nulls.
package athena

import "strings"

// Database is the Glue database of the tables.
const Database = "custody"

// Folder is the folder of a run that holds the Athena copies, one
// subfolder per table: cases/<caseId>/runs/<runId>/athena/<table>/.
const Folder = "athena"

// Column is one column of a table. Name is the JSON field as the extract
// spells it; Glue stores it lower-cased (ColumnName), and the OpenX JSON
// SerDe matches fields to columns case-insensitively (its default,
// case.insensitive=TRUE: https://docs.aws.amazon.com/athena/latest/ug/openx-json-serde.html).
type Column struct {
	Name string
	// Type is the Hive type Glue and Athena take; struct field names keep
	// the extract's spelling.
	Type    string
	Comment string
}

// ColumnName is the column's name in Glue: lower case.
func (c Column) ColumnName() string { return strings.ToLower(c.Name) }

// Table is one Glue table over one kind of extract.
type Table struct {
	// Name is the Glue table name (custody_<Dir>).
	Name string
	// Dir is the table's subfolder under a run's athena/ folder.
	Dir         string
	Description string
	Columns     []Column
}

// Partitions are every table's partition keys, in order: the case and the
// run, taken from the object's key by partition projection.
var Partitions = []Column{
	{Name: "case_id", Type: "string", Comment: "the case ID (cases/<caseId>/): a query must name it, the projection is injected"},
	{Name: "run_id", Type: "string", Comment: "the run ID (runs/<runId>/): a query must name it, the projection is injected"},
}

// userIdentity is CloudTrail's userIdentity with the fields responders
// filter on; sessionContext's issuer is where an assumed role's role is.
const userIdentity = "struct<type:string,principalId:string,arn:string,accountId:string,accessKeyId:string,userName:string,invokedBy:string," +
	"sessionContext:struct<sessionIssuer:struct<type:string,principalId:string,arn:string,accountId:string,userName:string>," +
	"attributes:struct<creationDate:string,mfaAuthenticated:string>>>"

// origin is evidence.Origin as the extracts write it.
const origin = "struct<bucket:string,key:string,logGroup:string,logStream:string>"

// Tables are the case's tables.
var Tables = []Table{
	{
		Name: "custody_cloudtrail", Dir: "cloudtrail",
		Description: "custody: the case's CloudTrail extracts (extract.jsonl.gz, its shards and every pivot pass's), one CloudTrail record a row",
		Columns: []Column{
			{Name: "eventVersion", Type: "string"},
			{Name: "eventTime", Type: "string", Comment: "ISO 8601 UTC, as CloudTrail writes it: compares as text"},
			{Name: "eventSource", Type: "string"},
			{Name: "eventName", Type: "string"},
			{Name: "awsRegion", Type: "string"},
			{Name: "sourceIPAddress", Type: "string"},
			{Name: "userAgent", Type: "string"},
			{Name: "userIdentity", Type: userIdentity},
			{Name: "errorCode", Type: "string"},
			{Name: "errorMessage", Type: "string"},
			{Name: "requestParameters", Type: "string", Comment: "the JSON object as text"},
			{Name: "responseElements", Type: "string", Comment: "the JSON object as text"},
			{Name: "requestID", Type: "string"},
			{Name: "eventID", Type: "string", Comment: "with recipientAccountId, the record's identity: two trails deliver the same record twice"},
			{Name: "eventType", Type: "string"},
			{Name: "recipientAccountId", Type: "string"},
		},
	},
	{
		Name: "custody_vpcflow", Dir: "vpcflow",
		Description: "custody: the case's VPC flow log extracts, one flow record a row, its fields in record",
		Columns: []Column{
			{Name: "start", Type: "string", Comment: "the record's start, RFC 3339 UTC"},
			{Name: "end", Type: "string", Comment: "the record's end, RFC 3339 UTC"},
			{Name: "flowLogId", Type: "string"},
			{Name: "origin", Type: origin, Comment: "the S3 object or CloudWatch Logs stream the line was read from"},
			{Name: "eventId", Type: "string", Comment: "the CloudWatch Logs event, when read from one"},
			{Name: "eventTime", Type: "string"},
			{Name: "format", Type: "string", Comment: "the flow log format the line was read with"},
			{Name: "formatFrom", Type: "string"},
			{Name: "message", Type: "string", Comment: "the line as the flow log wrote it"},
			{Name: "record", Type: "map<string,string>", Comment: "each field of the format by its name (srcaddr, dstport, action, log-status, ...); null for -"},
		},
	},
	{
		Name: "custody_s3access", Dir: "s3access",
		Description: "custody: the case's S3 server access log extracts (extract-<bucket>.jsonl.gz), one log line a row",
		Columns: []Column{
			{Name: "object", Type: "string", Comment: "s3://<target bucket>/<key> of the original log object"},
			{Name: "line", Type: "bigint"},
			{Name: "bucketOwner", Type: "string"},
			{Name: "bucket", Type: "string"},
			{Name: "time", Type: "string", Comment: "RFC 3339 UTC"},
			{Name: "remoteIp", Type: "string"},
			{Name: "requester", Type: "string"},
			{Name: "requestId", Type: "string"},
			{Name: "operation", Type: "string"},
			{Name: "key", Type: "string"},
			{Name: "requestUri", Type: "string"},
			{Name: "httpStatus", Type: "int"},
			{Name: "errorCode", Type: "string"},
			{Name: "bytesSent", Type: "bigint"},
			{Name: "objectSize", Type: "bigint"},
			{Name: "totalTimeMs", Type: "bigint"},
			{Name: "turnAroundTimeMs", Type: "bigint"},
			{Name: "referer", Type: "string"},
			{Name: "userAgent", Type: "string"},
			{Name: "versionId", Type: "string"},
			{Name: "hostId", Type: "string"},
			{Name: "signatureVersion", Type: "string"},
			{Name: "cipherSuite", Type: "string"},
			{Name: "authType", Type: "string"},
			{Name: "hostHeader", Type: "string"},
			{Name: "tlsVersion", Type: "string"},
			{Name: "accessPointArn", Type: "string"},
			{Name: "aclRequired", Type: "string"},
		},
	},
	{
		Name: "custody_timeline", Dir: "timeline",
		Description: "custody: the run's merged timeline (timeline.jsonl, docs/timeline.md), one event a row",
		Columns: []Column{
			{Name: "datetime", Type: "string", Comment: "ISO 8601 UTC, 6 fraction digits: sorts and compares as text"},
			{Name: "timestamp", Type: "bigint", Comment: "microseconds since the Unix epoch"},
			{Name: "timestamp_desc", Type: "string"},
			{Name: "message", Type: "string"},
			{Name: "data_type", Type: "string"},
			{Name: "source", Type: "string"},
			{Name: "action", Type: "string"},
			{Name: "actor", Type: "string"},
			{Name: "target", Type: "string"},
			{Name: "srcIp", Type: "string"},
			{Name: "outcome", Type: "string"},
			{Name: "artifact", Type: "string"},
			{Name: "record", Type: "bigint"},
			{Name: "origins", Type: "array<struct<artifact:string,record:bigint>>"},
		},
	},
}

// ByDir is the table reading subfolder dir, or false.
func ByDir(dir string) (Table, bool) {
	for _, t := range Tables {
		if t.Dir == dir {
			return t, true
		}
	}
	return Table{}, false
}
