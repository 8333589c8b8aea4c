package scenario

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/ctdigest"
)

// TestTrailDigests: seeded CloudTrail log files get the digests CloudTrail
// would deliver (hourly, chained, the hour after included, the signature
// in x-amz-meta-signature), and the validator passes them with the keys
// Seeded lists, read back from the emulator as a collector copies them.
func TestTrailDigests(t *testing.T) {
	dir := t.TempDir()
	write := func(rel string, b []byte) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(FileName, []byte(`{"trails":[{"name":"main","bucket":"seed-trail"}]}`))
	// Real records (stratus-red-team, see shared/ctdigest/testdata/SOURCES.md).
	raw, err := os.ReadFile("../ctdigest/testdata/aws.initial-access.console-login-without-mfa.json")
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	keys := []string{
		"AWSLogs/123456789012/CloudTrail/us-east-1/2024/08/02/123456789012_CloudTrail_us-east-1_20240802T0805Z_aaaa.json.gz",
		"AWSLogs/123456789012/CloudTrail/us-east-1/2024/08/02/123456789012_CloudTrail_us-east-1_20240802T1010Z_bbbb.json.gz",
	}
	for _, k := range keys {
		write("s3/seed-trail/"+k, gz.Bytes())
	}
	cfg, seeded := applyDir(t, dir)
	// 08:00, 09:00 (empty), 10:00, and 11:00 after the last.
	if len(seeded.Digests) != 4 || len(seeded.DigestKeys) != 1 {
		t.Fatalf("digests %+v, keys %d; want 4 digests, 1 key", seeded.Digests, len(seeded.DigestKeys))
	}
	client := s3client(cfg)
	in := ctdigest.Input{Keys: seeded.DigestKeys}
	for _, d := range seeded.Digests {
		out, err := client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(d.Bucket), Key: aws.String(d.Key)})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		b.ReadFrom(out.Body)
		out.Body.Close()
		in.Digests = append(in.Digests, ctdigest.DigestFile{Bucket: d.Bucket, Key: d.Key, Stored: b.Bytes(), Signature: out.Metadata["signature"]})
	}
	sum := sha256.Sum256(raw)
	for _, k := range keys {
		in.Logs = append(in.Logs, ctdigest.LogCopy{Bucket: "seed-trail", Key: k, SHA256: hex.EncodeToString(sum[:])})
	}
	rep := ctdigest.Validate(in)
	if !rep.OK() {
		t.Errorf("seeded digests do not validate: %+v", rep)
	}
}
