package main

import (
	"strings"
	"testing"

	"github.com/custody-ir/custody/shared/athena"
)

// TestAthenaTables holds the template's Glue tables to shared/athena, whose
// columns its tests hold to the extracts: the same names (lower case, as
// Glue stores them) and types, case_id and run_id projected as injected,
// and each table's location template naming its own folder of a run.
func TestAthenaTables(t *testing.T) {
	s := defaultStack(t)
	_, db := s.one(t, "AWS::Glue::Database", "AthenaDatabase")
	if got := path(props(db), "DatabaseInput", "Name"); got != athena.Database {
		t.Errorf("database name = %v", got)
	}
	tables := s.resources("AWS::Glue::Table")
	if len(tables) != len(athena.Tables) {
		t.Fatalf("%d Glue tables, want %d", len(tables), len(athena.Tables))
	}
	for _, want := range athena.Tables {
		t.Run(want.Name, func(t *testing.T) {
			_, r := s.one(t, "AWS::Glue::Table", "AthenaTable"+want.Dir)
			p := props(r)
			in := path(p, "TableInput").(map[string]any)
			if p["DatabaseName"] != athena.Database || in["Name"] != want.Name || in["TableType"] != "EXTERNAL_TABLE" {
				t.Errorf("table = %s", jsonString(p))
			}
			if !strings.Contains(jsonString(r["DependsOn"]), "AthenaDatabase") {
				t.Errorf("table does not depend on the database: %s", jsonString(r["DependsOn"]))
			}
			cols := list(path(in, "StorageDescriptor", "Columns"))
			if len(cols) != len(want.Columns) {
				t.Fatalf("%d columns, want %d", len(cols), len(want.Columns))
			}
			for i, c := range want.Columns {
				if path(cols[i], "Name") != strings.ToLower(c.Name) || path(cols[i], "Type") != c.Type {
					t.Errorf("column %d = %s, want %s %s", i, jsonString(cols[i]), strings.ToLower(c.Name), c.Type)
				}
			}
			keys := list(in["PartitionKeys"])
			if len(keys) != 2 || path(keys[0], "Name") != "case_id" || path(keys[1], "Name") != "run_id" {
				t.Errorf("partition keys = %s", jsonString(keys))
			}
			params := in["Parameters"].(map[string]any)
			for k, v := range map[string]string{
				"projection.enabled": "true", "projection.case_id.type": "injected", "projection.run_id.type": "injected",
			} {
				if params[k] != v {
					t.Errorf("%s = %v, want %s", k, params[k], v)
				}
			}
			if params["has_encrypted_data"] != nil {
				t.Error("has_encrypted_data marks CSE-KMS data; the evidence is SSE-KMS")
			}
			tpl := jsonString(params["storage.location.template"])
			if !strings.Contains(tpl, "EvidenceBucket") || !strings.Contains(tpl, "/cases/${case_id}/runs/${run_id}/athena/"+want.Dir+"/") {
				t.Errorf("storage.location.template = %s", tpl)
			}
			sd := path(in, "StorageDescriptor").(map[string]any)
			if path(sd, "SerdeInfo", "SerializationLibrary") != openXJSONSerDe || sd["InputFormat"] != textInputFormat {
				t.Errorf("storage = %s", jsonString(sd))
			}
		})
	}
}

// TestAthenaWorkGroupAndResults: results go to their own bucket (no Object
// Lock, the evidence key, expiring), and the workgroup enforces it.
func TestAthenaWorkGroupAndResults(t *testing.T) {
	s := defaultStack(t)
	_, wg := s.one(t, "AWS::Athena::WorkGroup", "AthenaWorkGroup")
	cfg := path(props(wg), "WorkGroupConfiguration")
	if props(wg)["Name"] != AthenaWorkGroupName || path(cfg, "EnforceWorkGroupConfiguration") != true {
		t.Errorf("workgroup = %s", jsonString(wg))
	}
	rc := path(cfg, "ResultConfiguration")
	if loc := jsonString(path(rc, "OutputLocation")); !strings.Contains(loc, "AthenaResultsBucket") || strings.Contains(loc, "EvidenceBucket") {
		t.Errorf("output location = %s", loc)
	}
	if path(rc, "EncryptionConfiguration", "EncryptionOption") != "SSE_KMS" || !strings.Contains(jsonString(path(rc, "EncryptionConfiguration", "KmsKey")), "EvidenceKey") {
		t.Errorf("result encryption = %s", jsonString(rc))
	}
	_, b := s.one(t, "AWS::S3::Bucket", "AthenaResultsBucket")
	bp := props(b)
	if bp["ObjectLockEnabled"] != nil {
		t.Error("the results bucket is locked: results could never expire")
	}
	if !strings.Contains(jsonString(bp["BucketEncryption"]), "aws:kms") || !strings.Contains(jsonString(bp["BucketEncryption"]), "EvidenceKey") {
		t.Errorf("results encryption = %s", jsonString(bp["BucketEncryption"]))
	}
	rules := list(path(bp, "LifecycleConfiguration", "Rules"))
	if len(rules) != 1 || path(rules[0], "ExpirationInDays") != float64(athenaResultsDays) || path(rules[0], "Status") != "Enabled" {
		t.Errorf("lifecycle = %s", jsonString(rules))
	}
	if path(bp, "LoggingConfiguration", "LogFilePrefix") != "athena-results/" {
		t.Errorf("results bucket not access-logged: %s", jsonString(bp["LoggingConfiguration"]))
	}
}

// TestAthenaQueryPolicy: the managed policy the stack outputs grants the
// workgroup, the tables, reads of cases/ (never a write, never a delete),
// the results, and the key through S3 only.
func TestAthenaQueryPolicy(t *testing.T) {
	s := defaultStack(t)
	_, p := s.one(t, "AWS::IAM::ManagedPolicy", "AthenaQueryPolicy")
	bySid := map[string]map[string]any{}
	for _, st := range list(path(props(p), "PolicyDocument", "Statement")) {
		bySid[path(st, "Sid").(string)] = st.(map[string]any)
	}
	kms := bySid["UseTheKeyThroughS3"]
	if kms == nil || !strings.Contains(jsonString(kms["Action"]), "kms:Decrypt") || !strings.Contains(jsonString(kms["Resource"]), "EvidenceKey") ||
		!strings.Contains(jsonString(path(kms, "Condition", "StringEquals", "kms:ViaService")), "s3.") {
		t.Errorf("key statement = %s", jsonString(kms))
	}
	read := bySid["ReadTheCases"]
	if read == nil || jsonString(read["Action"]) != `"s3:GetObject"` || !strings.Contains(jsonString(read["Resource"]), "/cases/*") {
		t.Errorf("cases statement = %s", jsonString(read))
	}
	for sid, st := range bySid {
		if sid == "ReadAndWriteQueryResults" {
			if strings.Contains(jsonString(st["Resource"]), "EvidenceBucket") {
				t.Errorf("%s writes the evidence bucket", sid)
			}
			continue
		}
		for _, a := range []string{"s3:PutObject", "s3:Delete", "kms:Encrypt", "glue:Create", "glue:Update", "glue:Delete"} {
			if strings.Contains(jsonString(st["Action"]), a) {
				t.Errorf("%s allows %s", sid, a)
			}
		}
	}
	if !strings.Contains(jsonString(bySid["RunQueriesInTheCustodyWorkGroup"]["Resource"]), "workgroup/"+AthenaWorkGroupName) {
		t.Errorf("athena statement = %s", jsonString(bySid["RunQueriesInTheCustodyWorkGroup"]))
	}
	outs := s.raw["Outputs"].(map[string]any)
	for _, id := range []string{"AthenaWorkGroupName", "AthenaQueryPolicyArn"} {
		if outs[id] == nil {
			t.Errorf("no output %s", id)
		}
	}
}
