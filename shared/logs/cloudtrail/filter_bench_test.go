package cloudtrail

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/custody-ir/custody/shared/incident"
	"github.com/custody-ir/custody/shared/s3logs"
)

func benchFile(b *testing.B) []byte {
	var rs []string
	if err := readRaw(gunzipB(b, read(b, gzLog)), func(_ int, raw []byte) error {
		rs = append(rs, string(raw))
		return nil
	}, nil); err != nil {
		b.Fatal(err)
	}
	one := strings.Join(rs, ",")
	return []byte(`{"Records":[` + strings.Repeat(one+",", 9) + one + `]}`)
}

func gunzipB(b *testing.B, z []byte) io.Reader {
	r, err := s3logs.Decompressed(bytes.NewReader(z))
	if err != nil {
		b.Fatal(err)
	}
	return r
}

func benchDecoder(b *testing.B, dec func(*Matcher) s3logs.Decoder) {
	file := benchFile(b)
	m := NewMatcher(incident.Scope{AccessKeys: []string{"AKIAQBENCH7SCOPE2024"}, Principals: []string{"arn:aws:iam::111122223333:user/bench-intruder"}, ENIs: []string{"eni-0be4c4cafe0b1e2f3"}})
	d := dec(m)
	b.SetBytes(int64(len(file)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := 0
		if err := d(bytes.NewReader(file), func(r s3logs.Record) error {
			if e, ok := r.Value.(*Event); ok && m.Match(e) {
				n++
			}
			return nil
		}, func(error) {}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	benchDecoder(b, func(*Matcher) s3logs.Decoder { return Decode })
}

func BenchmarkDecodeFor(b *testing.B) { benchDecoder(b, DecodeFor) }

func BenchmarkReadRaw(b *testing.B) {
	benchDecoder(b, func(*Matcher) s3logs.Decoder {
		return func(r io.Reader, emit func(s3logs.Record) error, bad func(error)) error {
			return readRaw(r, func(int, []byte) error { return nil }, nil)
		}
	})
}
