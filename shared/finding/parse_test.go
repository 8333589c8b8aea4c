package finding

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/custody-ir/custody/shared/faults"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

const corpusDir = "testdata/corpus"

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpusDir, path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// corpusInput is one input taken from the corpus, as Parse receives it.
type corpusInput struct {
	name string
	raw  []byte
}

// corpusInputs lists every GuardDuty finding (and every ASFF sample) in the
// copied corpus, in the form it arrives in.
func corpusInputs(t *testing.T) []corpusInput {
	t.Helper()
	var out []corpusInput
	for _, p := range []string{
		"cloud-custodian/guardduty_eventbridge_ec2_dns_sample.json",
		"cloud-custodian/guardduty_eventbridge_iam_toripcaller.json",
		"cloud-custodian/securityhub_custom_action_event_iamkey.json",
		"aws-samples-guardduty-automated-response/guardduty_ec2_event.json",
		"aws-samples-guardduty-automated-response/guardduty_iam_event.json",
		"aws-samples-guardduty-automated-response/guardduty_s3_event.json",
		"aws-cli-examples/guardduty_get-findings_output.json",
		"aws-cli-examples/securityhub_get-findings_output_asff.json",
	} {
		out = append(out, corpusInput{p, readFile(t, p)})
	}
	// A placebo recording wraps the API response in {"status_code", "data"}.
	var placebo struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(readFile(t, "cloud-custodian/placebo_securityhub_GetFindings_guardduty_asff.json"), &placebo); err != nil {
		t.Fatal(err)
	}
	out = append(out, corpusInput{"cloud-custodian/placebo_securityhub_GetFindings_guardduty_asff.json#data", placebo.Data})
	// stix-shifter: [{python_variable, finding}], each finding PascalCase.
	var stix []struct {
		Var     string          `json:"python_variable"`
		Finding json.RawMessage `json:"finding"`
	}
	if err := json.Unmarshal(readFile(t, "stix-shifter/guardduty_getfindings_pascalcase_4_findings.json"), &stix); err != nil {
		t.Fatal(err)
	}
	for _, s := range stix {
		out = append(out, corpusInput{"stix-shifter/" + s.Var, s.Finding})
	}
	// panther-analysis: one {panther_rule_file, test_name, log} a line.
	sc := bufio.NewScanner(bytes.NewReader(readFile(t, "panther-analysis/guardduty_rule_test_logs.jsonl")))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line struct {
			Name string          `json:"test_name"`
			Log  json.RawMessage `json:"log"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		out = append(out, corpusInput{"panther-analysis/" + line.Name, line.Log})
	}
	return out
}

// summary is what the golden file pins for one input.
type summary struct {
	Kind         Kind     `json:"kind,omitempty"`
	ID           string   `json:"id,omitempty"`
	Type         string   `json:"type,omitempty"`
	Severity     float64  `json:"severity,omitempty"`
	AccountID    string   `json:"accountId,omitempty"`
	Region       string   `json:"region,omitempty"`
	ResourceType string   `json:"resourceType,omitempty"`
	DetectorID   string   `json:"detectorId,omitempty"`
	CreatedAt    string   `json:"createdAt,omitempty"`
	UpdatedAt    string   `json:"updatedAt,omitempty"`
	FirstSeen    string   `json:"firstSeen,omitempty"`
	LastSeen     string   `json:"lastSeen,omitempty"`
	Sample       bool     `json:"sample,omitempty"`
	RemoteIPs    []string `json:"remoteIps,omitempty"`
	Warnings     []string `json:"warnings,omitempty"`
	ErrField     *string  `json:"errorField,omitempty"`
	ErrReason    string   `json:"errorReason,omitempty"`
}

func ts(t Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339Nano)
}

func summarize(in Input, err error) summary {
	s := summary{Kind: in.Kind, Warnings: in.Warnings}
	if err != nil {
		var inv *faults.InvalidInputError
		if errors.As(err, &inv) {
			s.ErrField, s.ErrReason = &inv.Field, inv.Reason
		} else {
			f := "NOT AN InvalidInputError"
			s.ErrField, s.ErrReason = &f, err.Error()
		}
		return s
	}
	if f := in.Finding; f != nil {
		s.ID, s.Type, s.Severity = f.ID, f.Type, float64(f.Severity)
		s.AccountID, s.Region, s.ResourceType = f.AccountID, f.Region, f.ResourceType()
		s.DetectorID = f.DetectorID()
		s.CreatedAt, s.UpdatedAt = ts(f.CreatedAt), ts(f.UpdatedAt)
		s.FirstSeen, s.LastSeen = ts(f.FirstSeen()), ts(f.LastSeen())
		s.Sample, s.RemoteIPs = f.IsSample(), f.RemoteIPs()
	}
	return s
}

// TestCorpusGolden parses every corpus input and compares the summary with
// testdata/golden/corpus.json (go test -run TestCorpusGolden -update).
func TestCorpusGolden(t *testing.T) {
	got := map[string]summary{}
	for _, c := range corpusInputs(t) {
		in, err := Parse(c.raw)
		got[c.name] = summarize(in, err)
		if err == nil && in.Finding != nil && !json.Valid(in.Finding.Raw) {
			t.Errorf("%s: Finding.Raw is not JSON", c.name)
		}
	}
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	golden := filepath.Join("testdata", "golden", "corpus.json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(want, b) {
		t.Errorf("corpus summaries differ from %s (run with -update and review the diff):\n%s", golden, b)
	}
}

// TestCorpusFields pins the main parsed fields of each corpus finding
// explicitly, independent of the golden file.
func TestCorpusFields(t *testing.T) {
	type want struct {
		kind                          Kind
		id, typ                       string
		sev                           float64
		account, region, rtype        string
		created, updated, first, last string
		errField                      *string
	}
	field := func(s string) *string { return &s }
	cases := map[string]want{
		"cloud-custodian/guardduty_eventbridge_ec2_dns_sample.json": {KindEnvelope, "b4b01b60fc24a199139f8f5f490edd81", "Backdoor:EC2/C&CActivity.B!DNS", 5, "883606788610", "us-east-1", "Instance",
			"2017-12-08T15:32:49.865Z", "2017-12-08T15:32:49.865Z", "2017-12-08T15:32:49Z", "2017-12-08T15:32:49Z", nil},
		"cloud-custodian/guardduty_eventbridge_iam_toripcaller.json": {kind: KindEnvelope, typ: "UnauthorizedAccess:IAMUser/TorIPCaller", rtype: "AccessKey"},
		"aws-samples-guardduty-automated-response/guardduty_ec2_event.json": {KindFinding, "16afba5c5c43e07c9e3e5e2e544e95df", "Canary:EC2/Stateless.IntegTest", 5, "123456789012", "us-east-1", "Instance",
			"2017-10-31T23:16:23.824Z", "2017-10-31T23:16:23.824Z", "2017-10-31T23:16:23Z", "2017-10-31T23:16:23Z", nil},
		"aws-samples-guardduty-automated-response/guardduty_iam_event.json": {kind: KindFinding, typ: "Recon:IAMUser/MaliciousIPCaller.Custom", rtype: "AccessKey"},
		"aws-samples-guardduty-automated-response/guardduty_s3_event.json":  {kind: KindFinding, id: "2cbf285e52a6e74ff96f4cb3cf93296d", typ: "PenTest:S3/ParrotLinux", rtype: "S3Bucket"},
		"aws-cli-examples/guardduty_get-findings_output.json": {KindAPIFinding, "1ab92989eaf0e742df4a014d5example", "Recon:IAMUser/UserPermissions", 5, "111122223333", "us-east-1", "AccessKey",
			"2020-05-26T22:21:48.385Z", "2020-05-26T22:55:21.703Z", "2020-05-26T22:02:24Z", "2020-05-26T22:33:55Z", nil},
		"stix-shifter/aws_guardduty_sample_response": {KindAPIFinding, "123abc456def789ghi123456", "UnauthorizedAccess:EC2/RDPBruteForce", 2, "012345678910", "us-east-1", "Instance",
			"2023-05-05T06:12:49.891Z", "2023-05-05T13:13:02.364Z", "2023-05-05T05:59:51Z", "2023-05-05T13:08:11Z", nil},
		"stix-shifter/aws_guardduty_sample_response_2": {kind: KindAPIFinding, typ: "UnauthorizedAccess:S3/TorIPCaller", sev: 8, rtype: "S3Bucket"},
		// Anonymised to an access key ID that is not one: refused, naming it.
		"stix-shifter/aws_guardduty_sample_response_3": {kind: KindAPIFinding, errField: field("Resource.AccessKeyDetails.AccessKeyId")},
		"stix-shifter/aws_guardduty_sample_response_4": {kind: KindAPIFinding, typ: "CredentialAccess:RDS/MaliciousIPCaller.FailedLogin", rtype: "RDSDBInstance"},
		// SIEM form: "YYYY-MM-DD HH:MM:SS.fff" read as UTC.
		"panther-analysis/Critical Sev Finding": {KindFinding, "8c258d654378414b9bc26f61a93eb816", "AttackSequence:IAM/CompromisedCredentials", 9, "123456789012", "us-east-1", "AttackSequence",
			"2025-02-25T20:40:06.721Z", "2025-02-25T20:40:06.721Z", "2025-02-25T20:40:06Z", "2025-02-25T20:40:06Z", nil},
		"panther-analysis/Critical Sev Finding As Sample Data": {kind: KindFinding, typ: "AttackSequence:S3/CompromisedData", rtype: "AttackSequence"},
		// Panther trimmed the resource from these: refused, naming it.
		"panther-analysis/High Sev Finding":                  {kind: KindFinding, errField: field("resource")},
		"panther-analysis/High Sev Finding As Sample Data":   {kind: KindFinding, errField: field("resource")},
		"panther-analysis/Low Sev Finding":                   {kind: KindFinding, errField: field("resource")},
		"panther-analysis/Low Sev Finding As Sample Data":    {kind: KindFinding, errField: field("resource")},
		"panther-analysis/Medium Sev Finding":                {kind: KindFinding, errField: field("resource")},
		"panther-analysis/Medium Sev Finding As Sample Data": {kind: KindFinding, errField: field("resource")},
		// Security Hub ASFF is refused as a whole.
		"cloud-custodian/securityhub_custom_action_event_iamkey.json":              {errField: field("")},
		"aws-cli-examples/securityhub_get-findings_output_asff.json":               {errField: field("")},
		"cloud-custodian/placebo_securityhub_GetFindings_guardduty_asff.json#data": {errField: field("")},
	}
	inputs := corpusInputs(t)
	if len(inputs) != len(cases) {
		t.Errorf("%d corpus inputs, %d expectations", len(inputs), len(cases))
	}
	for _, c := range inputs {
		t.Run(c.name, func(t *testing.T) {
			w, ok := cases[c.name]
			if !ok {
				t.Fatal("no expectation for this corpus input")
			}
			raw := c.raw
			if strings.HasPrefix(c.name, "stix-shifter/") {
				// stix-shifter anonymised the account to 11 digits: the
				// sample as it is refused, naming the field; with the
				// account made 12 digits (derived), it is a finding.
				_, err := Parse(raw)
				var inv *faults.InvalidInputError
				if !errors.As(err, &inv) || inv.Field != "AccountId" {
					t.Fatalf("11-digit account: err %v, want a refusal naming AccountId", err)
				}
				raw = twelveDigitAccount(raw)
			}
			in, err := Parse(raw)
			if w.kind != "" && in.Kind != w.kind {
				t.Errorf("kind %q, want %q", in.Kind, w.kind)
			}
			if w.errField != nil {
				var inv *faults.InvalidInputError
				if !errors.As(err, &inv) {
					t.Fatalf("err %v, want InvalidInputError on %q", err, *w.errField)
				}
				if inv.Field != *w.errField {
					t.Errorf("field %q, want %q (%v)", inv.Field, *w.errField, err)
				}
				if *w.errField == "" && !strings.Contains(inv.Reason, "ASFF") {
					t.Errorf("reason %q does not say ASFF", inv.Reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			f := in.Finding
			check := func(name, got, want string) {
				if want != "" && got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			check("id", f.ID, w.id)
			check("type", f.Type, w.typ)
			check("accountId", f.AccountID, w.account)
			check("region", f.Region, w.region)
			check("resourceType", f.ResourceType(), w.rtype)
			check("createdAt", ts(f.CreatedAt), w.created)
			check("updatedAt", ts(f.UpdatedAt), w.updated)
			check("firstSeen", ts(f.FirstSeen()), w.first)
			check("lastSeen", ts(f.LastSeen()), w.last)
			if w.sev != 0 && float64(f.Severity) != w.sev {
				t.Errorf("severity = %v, want %v", f.Severity, w.sev)
			}
			if f.UpdatedAt.IsZero() || f.ID == "" || f.Type == "" || f.Resource == nil {
				t.Errorf("accepted finding lacks a required field: %+v", f)
			}
		})
	}
}

// TestRawKeptByteForByte checks that Finding.Raw is the finding exactly as
// received in each form.
func TestRawKeptByteForByte(t *testing.T) {
	env := readFile(t, "cloud-custodian/guardduty_eventbridge_ec2_dns_sample.json")
	in, err := Parse(env)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(in.Raw, env) {
		t.Error("Input.Raw differs from the input")
	}
	var e struct {
		Detail json.RawMessage `json:"detail"`
	}
	_ = json.Unmarshal(env, &e)
	if !bytes.Equal(in.Finding.Raw, e.Detail) {
		t.Error("envelope: Finding.Raw is not the detail as received")
	}
	if in.Envelope == nil || in.Envelope.ID != "8f5fa7d9-5558-33dc-449c-c890a0c38127" || in.Envelope.Account != "101010101111" {
		t.Errorf("envelope = %+v", in.Envelope)
	}

	bare := readFile(t, "aws-samples-guardduty-automated-response/guardduty_s3_event.json")
	in, err = Parse(bare)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(in.Finding.Raw, bare) {
		t.Error("bare: Finding.Raw differs from the input")
	}

	list := readFile(t, "aws-cli-examples/guardduty_get-findings_output.json")
	in, err = Parse(list)
	if err != nil {
		t.Fatal(err)
	}
	var l struct {
		Findings []json.RawMessage
	}
	_ = json.Unmarshal(list, &l)
	if !bytes.Equal(in.Finding.Raw, l.Findings[0]) {
		t.Error("API list: Finding.Raw is not the PascalCase element as received")
	}
}

// TestAPIFormMatchesCamel checks that the PascalCase conversion reaches the
// same model as the camelCase form for the fields custody uses.
func TestAPIFormMatchesCamel(t *testing.T) {
	list := readFile(t, "aws-cli-examples/guardduty_get-findings_output.json")
	in, err := Parse(list)
	if err != nil {
		t.Fatal(err)
	}
	f := in.Finding
	if f.Resource.AccessKeyDetails == nil || f.Resource.AccessKeyDetails.AccessKeyID != "ASIASZ4SI7REEEXAMPLE" ||
		f.Resource.AccessKeyDetails.UserName != "testuser" || f.Resource.AccessKeyDetails.PrincipalID != "AIDACKCEVSQ6C2EXAMPLE" {
		t.Errorf("accessKeyDetails = %+v", f.Resource.AccessKeyDetails)
	}
	if got := f.RemoteIPs(); len(got) != 1 || got[0] != "52.94.36.7" {
		t.Errorf("remote IPs = %v", got)
	}
	if f.Service.DetectorID != "d4b040365221be2b54a6264dcexample" || f.Service.Count != 5 {
		t.Errorf("service = %+v", f.Service)
	}
	if f.Service.Action.AwsAPICallAction.API != "ListPolicyVersions" {
		t.Errorf("api = %q", f.Service.Action.AwsAPICallAction.API)
	}

	// stix-shifter: strings for booleans, AdditionalInfo as {Value, Type}.
	var stix []struct {
		Finding json.RawMessage `json:"finding"`
	}
	_ = json.Unmarshal(readFile(t, "stix-shifter/guardduty_getfindings_pascalcase_4_findings.json"), &stix)
	for i := range stix { // anonymised to 11-digit accounts: see TestCorpusFields
		stix[i].Finding = twelveDigitAccount(stix[i].Finding)
	}
	in, err = Parse(stix[0].Finding)
	if err != nil {
		t.Fatal(err)
	}
	f = in.Finding
	id := f.Resource.InstanceDetails
	if id == nil || id.InstanceID != "i-0bc12345678910" || len(id.NetworkInterfaces) != 1 ||
		id.NetworkInterfaces[0].NetworkInterfaceID != "eni-025723cd79287c910" || id.NetworkInterfaces[0].PublicIP != "22.112.112.112" ||
		id.NetworkInterfaces[0].SecurityGroups[0].GroupID != "sg-07a9c258f2c08e2a3" {
		t.Errorf("instanceDetails = %+v", id)
	}
	if got := f.RemoteIPs(); len(got) != 1 || got[0] != "15.116.116.115" {
		t.Errorf("remote IPs = %v", got)
	}
	in, err = Parse(stix[3].Finding) // RDS: additionalInfo Value {"sample":true}
	if err != nil {
		t.Fatal(err)
	}
	if !in.Finding.IsSample() {
		t.Errorf("RDS stix sample: IsSample false; additionalInfo = %s", in.Finding.Service.AdditionalInfo)
	}
	// The same finding wrapped in its Findings list gives the same finding.
	wrapped := append(append([]byte(`{"Findings":[`), stix[1].Finding...), "]}"...)
	in2, err := Parse(wrapped)
	if err != nil {
		t.Fatal(err)
	}
	in1, _ := Parse(stix[1].Finding)
	if in1.Finding.ID != in2.Finding.ID || in2.Kind != KindAPIFinding {
		t.Errorf("wrapped: %+v", in2)
	}
}

func TestCamelKey(t *testing.T) {
	for in, want := range map[string]string{
		"IpAddressV4":          "ipAddressV4",
		"IpAddressV6":          "ipAddressV6",
		"EksClusterDetails":    "eksClusterDetails",
		"S3BucketDetails":      "s3BucketDetails",
		"RdsDbInstanceDetails": "rdsDbInstanceDetails",
		"Ipv6Addresses":        "ipv6Addresses",
		"SourceIps":            "sourceIPs",
		"AWS::S3::Bucket":      "AWS::S3::Bucket",
		"id":                   "id",
		"":                     "",
	} {
		if got := camelKey(in, nil); got != want {
			t.Errorf("camelKey(%q) = %q, want %q", in, got, want)
		}
	}
	if got := camelKey("Code", productCodeKeys); got != "productCodeId" {
		t.Errorf("product code: %q", got)
	}
}

// elevenDigitAccountRe finds the 11-digit AccountId stix-shifter's samples
// were anonymised with.
var elevenDigitAccountRe = regexp.MustCompile(`("AccountId"\s*:\s*")([0-9]{11})"`)

// twelveDigitAccount returns raw with an 11-digit AccountId prefixed with
// "0": the anonymised sample made a finding Parse accepts (derived).
func twelveDigitAccount(raw []byte) []byte {
	return elevenDigitAccountRe.ReplaceAll(raw, []byte(`${1}0${2}"`))
}
