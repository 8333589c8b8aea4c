// Package s3access parses Amazon S3 server access log lines: space-separated
// fields, some quoted ("GET /k HTTP/1.1"), the time in brackets
// ([06/Feb/2019:00:00:38 +0000]), "-" for a field with no value.
//
// The fields, in order (https://docs.aws.amazon.com/AmazonS3/latest/userguide/LogFormat.html):
// bucket owner, bucket, time, remote IP, requester, request ID, operation,
// key, request-URI, HTTP status, error code, bytes sent, object size, total
// time, turn-around time, referer, user agent, version ID, host ID,
// signature version, cipher suite, authentication type, host header, TLS
// version, access point ARN, ACL required. Lines written before a field
// existed end earlier: every field after the user agent is optional. AWS
// may append fields: any beyond the ones above are kept in Extra.
//
// A line is malformed when it has fewer than MinFields fields, an unclosed
// quote or bracket, a time that does not parse, or a number field (HTTP
// status, bytes sent, object size, total time, turn-around time) that is
// neither a number nor "-". The collector and the timeline count malformed
// lines and go on with the rest.
package s3access

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/custody-ir/custody/shared/s3logs"
)

// MinFields is the fewest fields a line may have: up to the user agent,
// the oldest layout AWS documents.
const MinFields = 17

// TimeLayout is the bracketed time's layout, without the brackets.
const TimeLayout = "02/Jan/2006:15:04:05 -0700"

// Record is one access log line. String fields hold the value as logged,
// without quotes or brackets; "-" (no value) becomes "". A number field
// logged as "-" is nil.
type Record struct {
	BucketOwner string    `json:"bucketOwner,omitempty"`
	Bucket      string    `json:"bucket"`
	Time        time.Time `json:"time"`
	RemoteIP    string    `json:"remoteIp,omitempty"`
	// Requester is the canonical user ID or IAM ARN; "" for anonymous.
	Requester  string `json:"requester,omitempty"`
	RequestID  string `json:"requestId,omitempty"`
	Operation  string `json:"operation"`
	Key        string `json:"key,omitempty"`
	RequestURI string `json:"requestUri,omitempty"`
	HTTPStatus *int   `json:"httpStatus,omitempty"`
	ErrorCode  string `json:"errorCode,omitempty"`
	// BytesSent excludes protocol overhead; AWS logs 0 as "-" (nil).
	BytesSent  *int64 `json:"bytesSent,omitempty"`
	ObjectSize *int64 `json:"objectSize,omitempty"`
	// TotalTimeMs and TurnAroundTimeMs are in milliseconds.
	TotalTimeMs      *int64 `json:"totalTimeMs,omitempty"`
	TurnAroundTimeMs *int64 `json:"turnAroundTimeMs,omitempty"`
	Referer          string `json:"referer,omitempty"`
	UserAgent        string `json:"userAgent,omitempty"`
	VersionID        string `json:"versionId,omitempty"`
	HostID           string `json:"hostId,omitempty"`
	SignatureVersion string `json:"signatureVersion,omitempty"`
	CipherSuite      string `json:"cipherSuite,omitempty"`
	AuthType         string `json:"authType,omitempty"`
	HostHeader       string `json:"hostHeader,omitempty"`
	TLSVersion       string `json:"tlsVersion,omitempty"`
	AccessPointARN   string `json:"accessPointArn,omitempty"`
	ACLRequired      string `json:"aclRequired,omitempty"`
	// Fields is how many fields the line had.
	Fields int `json:"fields"`
	// Extra holds fields after ACL required, which AWS may add later.
	Extra []string `json:"extra,omitempty"`
}

// ErrMalformed is matched (errors.Is) by every error Parse returns.
var ErrMalformed = errors.New("malformed S3 access log line")

// MalformedError says why a line is not a record.
type MalformedError struct {
	Reason string
}

func (e *MalformedError) Error() string { return "malformed S3 access log line: " + e.Reason }

// Is makes errors.Is(err, ErrMalformed) hold.
func (e *MalformedError) Is(target error) bool { return target == ErrMalformed }

func malformed(format string, args ...any) error {
	return &MalformedError{Reason: fmt.Sprintf(format, args...)}
}

// Field indexes, 0-based, in the order AWS logs them.
const (
	fBucketOwner = iota
	fBucket
	fTime
	fRemoteIP
	fRequester
	fRequestID
	fOperation
	fKey
	fRequestURI
	fHTTPStatus
	fErrorCode
	fBytesSent
	fObjectSize
	fTotalTime
	fTurnAroundTime
	fReferer
	fUserAgent
	fVersionID
	fHostID
	fSignatureVersion
	fCipherSuite
	fAuthType
	fHostHeader
	fTLSVersion
	fAccessPointARN
	fACLRequired
	knownFields
)

// maxFields bounds how many fields a line may have, so a line of many
// short tokens cannot grow the field slice without end.
const maxFields = 64

// Split returns a line's fields: quoted and bracketed fields without their
// quotes or brackets. A quoted field ends at a quote followed by a space or
// the end of the line, so a stray quote inside a user agent does not end it
// early; its content is kept as logged (no unescaping).
func Split(line []byte) ([]string, error) {
	fields := make([]string, 0, knownFields)
	i, n := 0, len(line)
	for i < n {
		for i < n && line[i] == ' ' {
			i++
		}
		if i >= n {
			break
		}
		if len(fields) == maxFields {
			return nil, malformed("more than %d fields", maxFields)
		}
		switch line[i] {
		case '"':
			j := i + 1
			for {
				for j < n && line[j] != '"' {
					j++
				}
				if j >= n {
					return nil, malformed("field %d: unclosed quote", len(fields)+1)
				}
				if j+1 == n || line[j+1] == ' ' {
					break
				}
				j++
			}
			fields = append(fields, string(line[i+1:j]))
			i = j + 1
		case '[':
			j := i + 1
			for j < n && line[j] != ']' {
				j++
			}
			if j >= n {
				return nil, malformed("field %d: unclosed bracket", len(fields)+1)
			}
			fields = append(fields, string(line[i+1:j]))
			i = j + 1
		default:
			j := i
			for j < n && line[j] != ' ' {
				j++
			}
			fields = append(fields, string(line[i:j]))
			i = j
		}
	}
	return fields, nil
}

// Parse parses one line. Its error is a *MalformedError.
func Parse(line []byte) (Record, error) {
	f, err := Split(line)
	if err != nil {
		return Record{}, err
	}
	if len(f) < MinFields {
		return Record{}, malformed("%d fields, want at least %d", len(f), MinFields)
	}
	t, err := time.Parse(TimeLayout, f[fTime])
	if err != nil {
		return Record{}, malformed("time %q: want [%s]", f[fTime], TimeLayout)
	}
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		// An offset can push year 0000 or 9999 out of the range RFC 3339
		// (and so the extract's JSON) can write.
		return Record{}, malformed("time %q is out of range in UTC", f[fTime])
	}
	r := Record{Time: t, Fields: len(f)}
	str := func(i int) string {
		if i >= len(f) || f[i] == "-" {
			return ""
		}
		return f[i]
	}
	num := func(i int, name string) (*int64, error) {
		if f[i] == "-" {
			return nil, nil
		}
		v, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return nil, malformed("%s %q is not a number", name, f[i])
		}
		return &v, nil
	}
	r.BucketOwner, r.Bucket = str(fBucketOwner), str(fBucket)
	if r.Bucket == "" {
		return Record{}, malformed("no bucket")
	}
	r.RemoteIP, r.Requester, r.RequestID = str(fRemoteIP), str(fRequester), str(fRequestID)
	r.Operation, r.Key, r.RequestURI = str(fOperation), str(fKey), str(fRequestURI)
	status, err := num(fHTTPStatus, "HTTP status")
	if err != nil {
		return Record{}, err
	}
	if status != nil {
		if *status < 100 || *status > 999 {
			return Record{}, malformed("HTTP status %d", *status)
		}
		s := int(*status)
		r.HTTPStatus = &s
	}
	r.ErrorCode = str(fErrorCode)
	if r.BytesSent, err = num(fBytesSent, "bytes sent"); err != nil {
		return Record{}, err
	}
	if r.ObjectSize, err = num(fObjectSize, "object size"); err != nil {
		return Record{}, err
	}
	if r.TotalTimeMs, err = num(fTotalTime, "total time"); err != nil {
		return Record{}, err
	}
	if r.TurnAroundTimeMs, err = num(fTurnAroundTime, "turn-around time"); err != nil {
		return Record{}, err
	}
	r.Referer, r.UserAgent = str(fReferer), str(fUserAgent)
	r.VersionID, r.HostID, r.SignatureVersion = str(fVersionID), str(fHostID), str(fSignatureVersion)
	r.CipherSuite, r.AuthType, r.HostHeader = str(fCipherSuite), str(fAuthType), str(fHostHeader)
	r.TLSVersion, r.AccessPointARN, r.ACLRequired = str(fTLSVersion), str(fAccessPointARN), str(fACLRequired)
	if len(f) > knownFields {
		r.Extra = append([]string(nil), f[knownFields:]...)
	}
	return r, nil
}

// MaxLine is the longest line Read accepts; a longer one is malformed.
const MaxLine = s3logs.MaxLine

// Stats counts what Read saw.
type Stats struct {
	Lines     int `json:"lines"` // non-empty lines
	Records   int `json:"records"`
	Malformed int `json:"malformed"`
	// Problems names the first malformed lines ("line 3: ...").
	Problems []string `json:"problems,omitempty"`
}

const maxProblems = 20

// Read parses every line of r, calling emit with each record and its line
// number (from 1). Empty lines are skipped; a malformed line is counted in
// Stats and the rest goes on; so is a line longer than MaxLine, which is
// never held (its bytes stream past: s3logs.Lines). Read stops at emit's
// error or r's, and returns it.
func Read(r io.Reader, emit func(line int, rec Record) error) (Stats, error) {
	var st Stats
	type numbered struct {
		n   int
		rec Record
	}
	decode := s3logs.NumberedLines(func(n int, line []byte) (s3logs.Record, error) {
		line = trimLine(line)
		if len(line) == 0 {
			return s3logs.Record{}, s3logs.ErrSkip
		}
		st.Lines++
		rec, err := Parse(line)
		if err != nil {
			return s3logs.Record{}, err
		}
		return s3logs.Record{Value: numbered{n, rec}}, nil
	})
	err := decode(r, func(rec s3logs.Record) error {
		st.Records++
		v := rec.Value.(numbered)
		return emit(v.n, v.rec)
	}, func(err error) {
		var big *s3logs.OversizeError
		if errors.As(err, &big) {
			st.Lines++ // not given to the parser
		}
		st.Malformed++
		if len(st.Problems) < maxProblems {
			st.Problems = append(st.Problems, err.Error())
		}
	})
	return st, err
}

func trimLine(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\r' || b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}
