package attest

import "testing"

// FuzzParseStatement parses any bytes as a seal statement: it never
// panics, refuses what is not a statement of its type and algorithm, and a
// statement it accepts encodes back to bytes that parse to the same.
func FuzzParseStatement(f *testing.F) {
	f.Add([]byte(`{"type":"custody-seal-statement/1","caseId":"gd-x","runId":"r1","signingAlgorithm":"RSASSA_PKCS1_V1_5_SHA_256","sealedAt":"2024-05-06T07:08:09Z"}`))
	f.Add([]byte(`{"type":"other"}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ParseStatement(b)
		if err != nil {
			return
		}
		if st.Type != StatementType || st.SigningAlgorithm != SigningAlgorithm {
			t.Fatalf("accepted %+v", st)
		}
		again, err := st.Marshal()
		if err != nil {
			return // too long once re-encoded (escapes): refused to sign
		}
		st2, err := ParseStatement(again)
		if err != nil || *st2 != *st {
			t.Fatalf("round trip: %+v, %v; want %+v", st2, err, st)
		}
	})
}
