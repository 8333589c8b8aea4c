package report

import "strings"

// Tactic is a MITRE ATT&CK tactic: its ID and name as the Enterprise
// matrix's tactic pages give them (https://attack.mitre.org/tactics/enterprise/).
type Tactic struct {
	ID   string
	Name string
}

// The tactics the report names, from https://attack.mitre.org/tactics/TA00NN/.
var (
	tacticInitialAccess       = Tactic{"TA0001", "Initial Access"}
	tacticExecution           = Tactic{"TA0002", "Execution"}
	tacticPersistence         = Tactic{"TA0003", "Persistence"}
	tacticPrivilegeEscalation = Tactic{"TA0004", "Privilege Escalation"}
	tacticDefenseEvasion      = Tactic{"TA0005", "Defense Evasion"}
	tacticCredentialAccess    = Tactic{"TA0006", "Credential Access"}
	tacticDiscovery           = Tactic{"TA0007", "Discovery"}
	tacticLateralMovement     = Tactic{"TA0008", "Lateral Movement"}
	tacticCollection          = Tactic{"TA0009", "Collection"}
	tacticExfiltration        = Tactic{"TA0010", "Exfiltration"}
	tacticCommandAndControl   = Tactic{"TA0011", "Command and Control"}
	tacticImpact              = Tactic{"TA0040", "Impact"}
	tacticReconnaissance      = Tactic{"TA0043", "Reconnaissance"}
)

// Sources of the mappings, printed in the report beside the tactic column
// so a reader can check them.
const (
	// MappingSourceFinding: a GuardDuty finding type is
	// ThreatPurpose:ResourceTypeAffected/ThreatFamilyName.DetectionMechanism!Artifact;
	// its threat purpose names the tactic for the purposes that are ATT&CK
	// tactics.
	MappingSourceFinding = "https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_finding-format.html"
	// MappingSourceEvents: each Stratus Red Team AWS technique page lists
	// the CloudTrail events its detonation makes and its ATT&CK tactics.
	MappingSourceEvents = "https://stratus-red-team.cloud/attack-techniques/AWS/"
)

// threatPurposes maps the GuardDuty threat purposes that are ATT&CK tactics
// (the finding-format page's list). Backdoor, Behavior, CryptoCurrency,
// Pentest, Policy, Stealth, Trojan and UnauthorizedAccess are GuardDuty's
// own words with no one tactic: they map to none rather than to a guess.
var threatPurposes = map[string]Tactic{
	"CredentialAccess":    tacticCredentialAccess,
	"DefenseEvasion":      tacticDefenseEvasion,
	"Discovery":           tacticDiscovery,
	"Execution":           tacticExecution,
	"Exfiltration":        tacticExfiltration,
	"Impact":              tacticImpact,
	"InitialAccess":       tacticInitialAccess,
	"Persistence":         tacticPersistence,
	"PrivilegeEscalation": tacticPrivilegeEscalation,
	"Recon":               tacticReconnaissance,
}

// FindingTactic is the tactic a GuardDuty finding type's threat purpose
// names, and whether it names one.
func FindingTactic(findingType string) (Tactic, bool) {
	purpose, _, _ := strings.Cut(findingType, ":")
	t, ok := threatPurposes[purpose]
	return t, ok
}

// Technique is a Stratus Red Team AWS technique and the ATT&CK tactic its
// ID is filed under.
type Technique struct {
	// ID is the Stratus Red Team technique ID (its page:
	// MappingSourceEvents + ID).
	ID     string
	Tactic Tactic
}

// eventTechniques maps CloudTrail event names to the Stratus Red Team
// technique whose detonation logs or detection section name them
// (DataDog/stratus-red-team docs/attack-techniques/AWS/<ID>.md), and so to
// that technique's first tactic. Only event names a technique is built on:
// a read that every workload makes (DescribeInstances) would tag the
// whole account as Discovery.
var eventTechniques = map[string]Technique{
	"ConsoleLogin":                  {"aws.initial-access.console-login-without-mfa", tacticInitialAccess},
	"SendCommand":                   {"aws.execution.ssm-send-command", tacticExecution},
	"StartSession":                  {"aws.execution.ssm-start-session", tacticExecution},
	"ModifyInstanceAttribute":       {"aws.execution.ec2-user-data", tacticExecution},
	"CreateAccessKey":               {"aws.persistence.iam-backdoor-user", tacticPersistence},
	"CreateUser":                    {"aws.persistence.iam-create-admin-user", tacticPersistence},
	"AttachUserPolicy":              {"aws.persistence.iam-create-admin-user", tacticPersistence},
	"CreateLoginProfile":            {"aws.persistence.iam-create-user-login-profile", tacticPersistence},
	"CreateRole":                    {"aws.persistence.iam-create-backdoor-role", tacticPersistence},
	"UpdateAssumeRolePolicy":        {"aws.persistence.iam-backdoor-role", tacticPersistence},
	"AddPermission20150331":         {"aws.persistence.lambda-backdoor-function", tacticPersistence},
	"AddPermission20150331v2":       {"aws.persistence.lambda-backdoor-function", tacticPersistence},
	"GetFederationToken":            {"aws.persistence.sts-federation-token", tacticPersistence},
	"CreateTrustAnchor":             {"aws.persistence.rolesanywhere-create-trust-anchor", tacticPersistence},
	"UpdateLoginProfile":            {"aws.privilege-escalation.iam-update-user-login-profile", tacticPrivilegeEscalation},
	"StopLogging":                   {"aws.defense-evasion.cloudtrail-stop", tacticDefenseEvasion},
	"DeleteTrail":                   {"aws.defense-evasion.cloudtrail-delete", tacticDefenseEvasion},
	"PutEventSelectors":             {"aws.defense-evasion.cloudtrail-event-selectors", tacticDefenseEvasion},
	"PutBucketLifecycle":            {"aws.defense-evasion.cloudtrail-lifecycle-rule", tacticDefenseEvasion},
	"DeleteFlowLogs":                {"aws.defense-evasion.vpc-remove-flow-logs", tacticDefenseEvasion},
	"LeaveOrganization":             {"aws.defense-evasion.organizations-leave", tacticDefenseEvasion},
	"DeleteResolverQueryLogConfig":  {"aws.defense-evasion.dns-delete-logs", tacticDefenseEvasion},
	"GetPasswordData":               {"aws.credential-access.ec2-get-password-data", tacticCredentialAccess},
	"GetSecretValue":                {"aws.credential-access.secretsmanager-retrieve-secrets", tacticCredentialAccess},
	"BatchGetSecretValue":           {"aws.credential-access.secretsmanager-batch-retrieve-secrets", tacticCredentialAccess},
	"GetParameters":                 {"aws.credential-access.ssm-retrieve-securestring-parameters", tacticCredentialAccess},
	"DescribeInstanceAttribute":     {"aws.discovery.ec2-download-user-data", tacticDiscovery},
	"ModifySnapshotAttribute":       {"aws.exfiltration.ec2-share-ebs-snapshot", tacticExfiltration},
	"ModifyImageAttribute":          {"aws.exfiltration.ec2-share-ami", tacticExfiltration},
	"ModifyDBSnapshotAttribute":     {"aws.exfiltration.rds-share-snapshot", tacticExfiltration},
	"PutBucketPolicy":               {"aws.exfiltration.s3-backdoor-bucket-policy", tacticExfiltration},
	"AuthorizeSecurityGroupIngress": {"aws.exfiltration.ec2-security-group-open-port-22-ingress", tacticExfiltration},
	"DeleteObjects":                 {"aws.impact.s3-ransomware-batch-deletion", tacticImpact},
	"SendSSHPublicKey":              {"aws.lateral-movement.ec2-instance-connect", tacticLateralMovement},
	"SendSerialConsoleSSHPublicKey": {"aws.lateral-movement.ec2-serial-console-send-ssh-public-key", tacticLateralMovement},
	"GetConsoleScreenshot":          {"aws.collection.ec2-console-screenshots", tacticCollection},
}

// mapping is what the report shows of an event's ATT&CK mapping.
type mapping struct {
	Tactic Tactic
	// Technique is the Stratus Red Team ID ("" for a finding's purpose).
	Technique string
	// Source is the mapping's source (MappingSourceFinding or
	// MappingSourceEvents).
	Source string
}

// eventMapping is the ATT&CK tactic of an event where the mapping is
// known: a GuardDuty finding by its type's threat purpose (the finding's
// type is its action on the timeline), a CloudTrail call by its event name.
func eventMapping(e Event) (mapping, bool) {
	switch e.Source {
	case "guardduty":
		if t, ok := FindingTactic(e.Action); ok {
			return mapping{Tactic: t, Source: MappingSourceFinding}, true
		}
	case "cloudtrail":
		if t, ok := eventTechniques[apiVerb(e.Action)]; ok {
			return mapping{Tactic: t.Tactic, Technique: t.ID, Source: MappingSourceEvents}, true
		}
	}
	return mapping{}, false
}
