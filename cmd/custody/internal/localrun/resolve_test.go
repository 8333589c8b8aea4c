package localrun

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestResolve(t *testing.T) {
	tpl := &Template{
		Resources: map[string]Resource{
			"Bucket": {Type: "AWS::S3::Bucket"},
			"Key":    {Type: "AWS::KMS::Key"},
			"Role":   {Type: "AWS::IAM::Role"},
			"Fn":     {Type: "AWS::Lambda::Function"},
			"Queue":  {Type: "AWS::SQS::Queue"},
		},
		Physical: map[string]string{
			"Bucket": "evidence-abc", "Key": "1234-abcd", "Role": "Custody-TriageRole-X", "Fn": "Custody-Triage-Y",
			"Queue": "http://localhost:1/123456789012/dlq",
		},
		AccountID: "123456789012", Region: "us-east-1",
	}
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{name: "ref", in: `{"Ref": "Bucket"}`, want: `"evidence-abc"`},
		{name: "pseudo parameters", in: `["x", {"Ref": "AWS::AccountId"}, {"Ref": "AWS::Region"}, {"Ref": "AWS::Partition"}]`, want: `["x","123456789012","us-east-1","aws"]`},
		{name: "bucket arn joined", in: `{"Fn::Join": ["", [{"Fn::GetAtt": ["Bucket", "Arn"]}, "/*"]]}`, want: `"arn:aws:s3:::evidence-abc/*"`},
		{name: "key arn", in: `{"Fn::GetAtt": ["Key", "Arn"]}`, want: `"arn:aws:kms:us-east-1:123456789012:key/1234-abcd"`},
		{name: "role arn, dotted form", in: `{"Fn::GetAtt": "Role.Arn"}`, want: `"arn:aws:iam::123456789012:role/Custody-TriageRole-X"`},
		{name: "function arn", in: `{"Fn::GetAtt": ["Fn", "Arn"]}`, want: `"arn:aws:lambda:us-east-1:123456789012:function:Custody-Triage-Y"`},
		{name: "queue arn from its URL", in: `{"Fn::GetAtt": ["Queue", "Arn"]}`, want: `"arn:aws:sqs:us-east-1:123456789012:dlq"`},
		{name: "select and split", in: `{"Fn::Select": [1, {"Fn::Split": ["/", "a/b/c"]}]}`, want: `"b"`},
		{name: "sub", in: `{"Fn::Sub": "arn:${AWS::Partition}:s3:::${Bucket}/x"}`, want: `"arn:aws:s3:::evidence-abc/x"`},
		{name: "nested objects keep their keys", in: `{"Statement": [{"Resource": {"Ref": "Bucket"}, "Effect": "Deny"}]}`, want: `{"Statement":[{"Effect":"Deny","Resource":"evidence-abc"}]}`},
		{name: "unknown resource", in: `{"Ref": "Nope"}`, wantErr: true},
		{name: "unsupported attribute", in: `{"Fn::GetAtt": ["Bucket", "WebsiteURL"]}`, wantErr: true},
		{name: "unsupported intrinsic", in: `{"Fn::If": ["C", 1, 2]}`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var in any
			if err := json.Unmarshal([]byte(tc.in), &in); err != nil {
				t.Fatal(err)
			}
			got, err := tpl.Resolve(in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("resolved to %v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var want any
			if err := json.Unmarshal([]byte(tc.want), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got %#v, want %#v", got, want)
			}
		})
	}
}

func TestEmulatorPolicyLeavesOutConditionalDenies(t *testing.T) {
	doc := map[string]any{"Version": "2012-10-17", "Statement": []any{
		map[string]any{"Effect": "Deny", "Action": "s3:*", "Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}},
		map[string]any{"Sid": "NoDelete", "Effect": "Deny", "Action": "s3:DeleteObjectVersion"},
		map[string]any{"Sid": "NoKMS", "Effect": "Deny", "Action": "s3:PutObject", "Condition": map[string]any{"Null": map[string]any{"k": "false"}}},
		map[string]any{"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Condition": map[string]any{"Bool": map[string]any{"x": "y"}}},
	}}
	got, skipped := emulatorPolicy(doc)
	stmts := got["Statement"].([]any)
	if len(stmts) != 2 || stmts[0].(map[string]any)["Sid"] != "NoDelete" || stmts[1].(map[string]any)["Sid"] != "Read" {
		t.Fatalf("kept %v", stmts)
	}
	if len(skipped) != 2 || skipped[1] != "NoKMS" {
		t.Fatalf("skipped %q", skipped)
	}
	if got["Version"] != "2012-10-17" {
		t.Fatal("version lost")
	}
}

func TestLoadContext(t *testing.T) {
	dir := t.TempDir()
	if got, err := LoadContext(dir); err != nil || got != nil {
		t.Fatalf("a folder without context.json: %v %v", got, err)
	}
	body := "{\n  \"custody:instanceLogGroups\": [\n    \"/a\",\n    \"/b\"\n  ],\n  \"custody:lockMode\": \"COMPLIANCE\",\n  \"custody:retentionDays\": 7\n}\n"
	if err := os.WriteFile(filepath.Join(dir, ContextFile), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := LoadContext(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"custody:instanceLogGroups": `["/a","/b"]`, "custody:lockMode": "COMPLIANCE", "custody:retentionDays": "7"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q (values pass on one line to cdk -c)", got, want)
	}
}
