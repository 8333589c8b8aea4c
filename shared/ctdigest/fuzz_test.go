package ctdigest

import (
	"testing"
	"time"
)

// FuzzValidate validates a chain whose middle digest's stored bytes and
// signature are any bytes. Validate never panics, reports every file, and
// the middle digest validates only as the bytes CloudTrail signed: any
// other digest is refused, and no log file it lists is valid.
func FuzzValidate(f *testing.F) {
	start := time.Date(2024, 8, 2, 7, 0, 0, 0, time.UTC)
	s, err := NewSigner("us-east-1", start.AddDate(0, -1, 0))
	if err != nil {
		f.Fatal(err)
	}
	base := "AWSLogs/"
	logKey := func(h int) string {
		return "AWSLogs/123456789012/CloudTrail/us-east-1/2024/08/02/123456789012_CloudTrail_us-east-1_2024080" +
			string(rune('0'+h)) + "T0817Z_abc.json.gz"
	}
	var prev *Written
	var ws []*Written
	raw := []byte(`{"Records":[]}`)
	for i := 0; i < 3; i++ {
		h := start.Add(time.Duration(i) * time.Hour)
		w, err := s.Digest("b", base, "123456789012", "t", h, h.Add(time.Hour), []Delivered{{Bucket: "b", Key: logKey(i), Raw: raw}}, prev)
		if err != nil {
			f.Fatal(err)
		}
		ws, prev = append(ws, w), w
	}
	inflated, _ := Inflate(ws[1].Stored)
	f.Add(ws[1].Stored, ws[1].Signature)
	f.Add(inflated, ws[1].Signature)
	f.Add([]byte("{}"), "00")
	f.Add([]byte("\x1f\x8b not gzip"), "zz")
	f.Fuzz(func(t *testing.T, stored []byte, sig string) {
		in := Input{Keys: []PublicKey{s.PublicKey()}}
		for i, w := range ws {
			d := DigestFile{Bucket: "b", Key: w.Key, Stored: w.Stored, Signature: w.Signature}
			if i == 1 {
				d.Stored, d.Signature = stored, sig
			}
			in.Digests = append(in.Digests, d)
			in.Logs = append(in.Logs, LogCopy{Bucket: "b", Key: logKey(i), SHA256: sha(raw)})
		}
		rep := Validate(in)
		if len(rep.Digests) != 3 || len(rep.Logs) != 3 {
			t.Fatalf("%d digests, %d logs reported, want 3 and 3", len(rep.Digests), len(rep.Logs))
		}
		got, _ := Inflate(stored)
		signed := string(got) == string(inflated) && sig == ws[1].Signature
		var middle DigestResult
		for _, d := range rep.Digests {
			if d.Key == ws[1].Key {
				middle = d
			}
		}
		if middle.Status == DigestValid && !signed {
			t.Fatalf("a digest CloudTrail did not sign validates: %q sig %q", stored, sig)
		}
		if signed && !rep.OK() {
			t.Fatalf("the signed chain does not validate: %+v", rep)
		}
	})
}
