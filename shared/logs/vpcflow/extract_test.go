package vpcflow

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/incident"
	"github.com/custody-ir/custody/shared/s3logs"
)

// benchENI is the interface in scope of the synthetic objects.
const benchENI = "eni-0be4c4cafe0b1e2f3"

// syntheticObject is a flow log object as S3 delivers one of a busy VPC:
// a header, then n default-format records on 400 interfaces, one in 50 on
// benchENI.
func syntheticObject(n int) []byte {
	var b bytes.Buffer
	b.WriteString("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n")
	for i := 0; i < n; i++ {
		eni := fmt.Sprintf("eni-0%016x", uint64(i*7919%400)*0x9e3779b97f4a7c1)
		if i%50 == 25 {
			eni = benchENI
		}
		start := 1722470400 + i/10
		if i%97 == 0 {
			fmt.Fprintf(&b, "2 111122223333 %s - - - - - - - %d %d - NODATA\n", eni, start, start+60)
			continue
		}
		fmt.Fprintf(&b, "2 111122223333 %s 172.31.%d.%d 10.0.%d.%d %d 443 6 %d %d %d %d ACCEPT OK\n",
			eni, i%256, i*7%256, i*3%256, i*11%256, 32768+i%28000, 1+i%200, (1+i%200)*(40+i%1400), start, start+60)
	}
	return b.Bytes()
}

// BenchmarkObjectDecoder is the S3 reader's decoding of one decompressed
// object: every line split, prefiltered and counted, the 2 % in scope
// parsed into Lines.
func BenchmarkObjectDecoder(b *testing.B) {
	obj := syntheticObject(80000)
	m := NewMatcher(incident.Scope{ENIs: []string{benchENI}}, incident.Window{Start: time.Unix(0, 0), End: time.Unix(1<<40, 0)})
	dec := ObjectDecoder(m, "fl-0bench0000000001", Default, evidence.Origin{Bucket: "b", Key: "k"}, nil)
	b.SetBytes(int64(len(obj)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		kept := 0
		err := dec(bytes.NewReader(obj), func(r s3logs.Record) error {
			if m.Keep(r) {
				kept++
			}
			return nil
		}, func(err error) { b.Fatal(err) })
		if err != nil || kept != 1600 {
			b.Fatalf("kept %d: %v", kept, err)
		}
	}
}
