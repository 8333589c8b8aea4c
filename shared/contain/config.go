package contain

import (
	"fmt"
	"strings"
	"time"

	"github.com/custody-ir/custody/shared/faults"
)

// Environment variables, one mode per action class (infra/config.go sets
// them from the custody:contain* context keys).
const (
	EnvEC2        = "CUSTODY_CONTAIN_EC2"
	EnvAccessKey  = "CUSTODY_CONTAIN_ACCESS_KEY"
	EnvRole       = "CUSTODY_CONTAIN_ROLE"
	EnvLambda     = "CUSTODY_CONTAIN_LAMBDA"
	EnvS3Bucket   = "CUSTODY_CONTAIN_S3_BUCKET"
	EnvSubnetNACL = "CUSTODY_CONTAIN_EC2_SUBNET_NACL"
	// EnvPartition is the stack's partition (bucket policy ARNs).
	EnvPartition    = "CUSTODY_PARTITION"
	EnvProtectedTag = "CUSTODY_PROTECTED_TAG"
	// EnvAccountID is the account the function acts in (the stack's).
	EnvAccountID = "CUSTODY_ACCOUNT_ID"
	// EnvApprovalTimeout is how long an approval is waited for (a Go
	// duration; infra sets it from custody:approvalTimeout).
	EnvApprovalTimeout = "CUSTODY_APPROVAL_TIMEOUT"
	// EnvTopic is the stack's topic, where the approval notice goes.
	EnvTopic = "CASE_TOPIC_ARN"
	// DefaultApprovalTimeout: a day, so a finding at night waits for the
	// morning's responder.
	DefaultApprovalTimeout = 24 * time.Hour
	// DefaultProtectedTag exempts a resource from every action.
	DefaultProtectedTag = "custody:protected=true"
)

// FromEnv is a Handler's modes and protected tag from the environment; a
// bad value is a ConfigurationError naming the variable.
func FromEnv(getenv func(string) string) (*Handler, error) {
	h := &Handler{Modes: map[Class]Mode{}, AccountID: getenv(EnvAccountID)}
	for env, class := range map[string]Class{EnvEC2: ClassEC2, EnvAccessKey: ClassAccessKey, EnvRole: ClassRole, EnvLambda: ClassLambda, EnvS3Bucket: ClassS3Bucket, EnvSubnetNACL: ClassSubnetNACL} {
		m, err := ParseMode(getenv(env))
		if err != nil {
			return nil, &faults.ConfigurationError{Setting: env, Reason: err.Error()}
		}
		h.Modes[class] = m
	}
	tag := getenv(EnvProtectedTag)
	if tag == "" {
		tag = DefaultProtectedTag
	}
	k, v, ok := strings.Cut(tag, "=")
	if !ok || k == "" || v == "" {
		return nil, &faults.ConfigurationError{Setting: EnvProtectedTag, Reason: fmt.Sprintf("%q is not key=value", tag)}
	}
	h.ProtectedKey, h.ProtectedValue = k, v
	// Required: containment records are never written unsigned (the
	// function fails at its start instead).
	if h.SigningKeyARN = getenv(EnvSigningKey); h.SigningKeyARN == "" {
		return nil, &faults.ConfigurationError{Setting: EnvSigningKey, Reason: "no containment key: the containment records could not be signed"}
	}
	h.TopicARN = getenv(EnvTopic)
	h.Partition = getenv(EnvPartition)
	h.ApprovalTimeout = DefaultApprovalTimeout
	if v := getenv(EnvApprovalTimeout); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, &faults.ConfigurationError{Setting: EnvApprovalTimeout, Reason: fmt.Sprintf("%q is not a positive Go duration", v)}
		}
		h.ApprovalTimeout = d
	}
	return h, nil
}
