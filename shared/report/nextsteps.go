package report

import "strings"

// Step is one thing to look at next: what, and in which artifact of the
// case.
type Step struct {
	What     string
	Artifact string
}

// family is a GuardDuty finding type family and its next steps. Prefix is
// matched against the finding type: "UnauthorizedAccess:IAMUser/" covers
// UnauthorizedAccess:IAMUser/*; a prefix ending in ":" covers a threat
// purpose on every resource type.
type family struct {
	Prefix string
	Name   string
	Steps  []Step
}

// families are tried in order; the first match wins, defaultFamily when
// none does. The finding type names are GuardDuty's
// (https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_finding-types-active.html).
var families = []family{
	{"UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration", "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.*", []Step{
		{"The instance role session's calls from the outside address: what the stolen key did, and whether it made credentials of its own.", "timeline.jsonl (key events above), cloudtrail/pivot/identities.json"},
		{"How the credentials left the instance: IMDS v1 still enabled, a web request fetching 169.254.169.254 in the application logs.", "ec2/ (instance metadata options), cloudwatch/"},
		{"The instance's flows to the address the key was used from.", "vpcflow/"},
	}},
	{"UnauthorizedAccess:IAMUser/", "UnauthorizedAccess:IAMUser/*", []Step{
		{"Every call of the access key in the window, and every credential it made (keys, role sessions, users, console passwords).", "cloudtrail/ extracts, cloudtrail/pivot/identities.json"},
		{"The addresses and user agents the key was used from: new ones against the baseline.", "entities.json"},
		{"The key's last legitimate use, to bound when it was stolen.", "cloudtrail/baseline.jsonl.gz"},
	}},
	{"Backdoor:EC2/", "Backdoor:EC2/*", []Step{
		{"The instance's flows to and from the remote address: ports, volumes, first contact.", "vpcflow/"},
		{"The disk: persistence (cron, systemd units, authorized_keys) and the process the finding names.", "the EBS snapshots listed above"},
		{"Who changed the instance or ran commands on it (SendCommand, StartSession, ModifyInstanceAttribute).", "cloudtrail/ extracts"},
	}},
	{"CryptoCurrency:EC2/", "CryptoCurrency:EC2/*", []Step{
		{"The mining pool connections: which addresses, since when.", "vpcflow/"},
		{"How the miner got there: user data, SSM commands, a new instance launched by a stolen key (RunInstances).", "cloudtrail/ extracts, ec2/"},
		{"The miner's binary and its start-up entry on the disk.", "the EBS snapshots listed above"},
	}},
	{"Trojan:EC2/", "Trojan:EC2/*", []Step{
		{"The DNS names and addresses the instance reached.", "vpcflow/, guardduty/finding.json"},
		{"The disk for the implant and its persistence.", "the EBS snapshots listed above"},
	}},
	{"Exfiltration:S3/", "Exfiltration:S3/*", []Step{
		{"Every GetObject of the bucket by the finding's principal: objects, bytes, addresses.", "s3access/, cloudtrail/ extracts (data events)"},
		{"Policy and ACL changes that opened the bucket (PutBucketPolicy, PutBucketAcl, PutPublicAccessBlock).", "cloudtrail/ extracts"},
		{"Where the principal's credentials came from.", "cloudtrail/pivot/identities.json, entities.json"},
	}},
	{"Impact:S3/", "Impact:S3/*", []Step{
		{"Deletions and overwrites (DeleteObject(s), PutObject with new encryption) and which versions remain.", "s3access/, cloudtrail/ extracts"},
		{"The principal's other writes in the window.", "timeline.jsonl"},
	}},
	{"Discovery:S3/", "Discovery:S3/*", []Step{
		{"The listing calls (ListObjects, GetBucketAcl, GetBucketPolicy) and what followed them: a read of the listed objects is exfiltration.", "s3access/, cloudtrail/ extracts"},
		{"Whether the principal and address are new in the window.", "entities.json"},
	}},
	{"Recon:EC2/", "Recon:EC2/*", []Step{
		{"The scanning address's flows: which ports answered (ACCEPT) and any connection that followed.", "vpcflow/"},
		{"The security groups that let it in.", "ec2/"},
	}},
	{"UnauthorizedAccess:EC2/", "UnauthorizedAccess:EC2/*", []Step{
		{"The brute-force or connection flows: did one succeed, and what did the address do next.", "vpcflow/"},
		{"Log-ins on the instance (sshd, RDP) around the finding's time.", "cloudwatch/, the EBS snapshots listed above"},
	}},
	{"Policy:IAMUser/RootCredentialUsage", "Policy:IAMUser/RootCredentialUsage", []Step{
		{"Every root call in the window, its address and user agent.", "cloudtrail/ extracts, entities.json"},
	}},
	{"PrivilegeEscalation:", "PrivilegeEscalation:*", []Step{
		{"The policy and role changes (Attach*Policy, Put*Policy, UpdateAssumeRolePolicy, PassRole) and who made them.", "cloudtrail/ extracts"},
		{"What the escalated identity did next.", "cloudtrail/pivot/identities.json, timeline.jsonl"},
	}},
	{"Persistence:", "Persistence:*", []Step{
		{"The users, keys, roles and login profiles created in the window: each is a door to close.", "cloudtrail/pivot/identities.json, entities.json"},
	}},
	{"Stealth:", "Stealth:*", []Step{
		{"What was switched off (StopLogging, DeleteTrail, DeleteFlowLogs) and what the same principal did while it was off.", "cloudtrail/ extracts, the gaps above"},
	}},
	{"DefenseEvasion:", "DefenseEvasion:*", []Step{
		{"What was switched off (StopLogging, DeleteTrail, DeleteFlowLogs) and what the same principal did while it was off.", "cloudtrail/ extracts, the gaps above"},
	}},
}

var defaultFamily = family{"", "any other finding type", []Step{
	{"The key events above in time order: the scope's writes, denials and new credentials.", "timeline.jsonl"},
	{"The new principals, keys, addresses and user agents against the baseline.", "entities.json"},
	{"The gaps above: what the case could not see, and how to collect it next time.", "manifest.json"},
}}

// nextSteps is the family of a finding type.
func nextSteps(findingType string) family {
	for _, f := range families {
		if findingType != "" && strings.HasPrefix(findingType, f.Prefix) {
			return f
		}
	}
	return defaultFamily
}
