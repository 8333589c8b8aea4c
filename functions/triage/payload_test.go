package main

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/custody-ir/custody/shared/emulator/s3test"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
)

// TestInvokePayload calls Triage as the Lambda runtime does, with the
// payload the Triage task sends ({"input", "execution"}): an accepted
// input answers what Handle answers; an input nested past what the
// runtime's decoder reads (100 000 levels) is refused naming the field,
// and the payload is kept under rejected/ with its reason.
func TestInvokePayload(t *testing.T) {
	payload := func(input []byte) []byte {
		return append(append([]byte(`{"input":`), input...), []byte(`,"execution":"exec-1"}`)...)
	}
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	hostile := editJSON(t, readCorpus(t, envelopeFile), func(m map[string]any) {
		m["detail"].(map[string]any)["service"].(map[string]any)["additionalInfo"] = "DEEP"
	})
	hostile = bytes.Replace(hostile, []byte(`"DEEP"`), []byte(deep), 1)

	t.Run("accepted: the answer Handle gives", func(t *testing.T) {
		client := emu.FreshLockedBucket(t, testBucket)
		h := newHandler(t, client, newFakeFindings(t))
		out, err := h.Invoke(lambdaCtx(), payload(readCorpus(t, envelopeFile)))
		if err != nil {
			t.Fatal(err)
		}
		var resp Response
		if err := json.Unmarshal(out, &resp); err != nil || resp.Incident == nil || resp.Incident.CaseID != "gd-b4b01b60fc24a199139f8f5f490edd81" {
			t.Fatalf("response %s (%v)", out, err)
		}
	})
	for _, c := range []struct {
		name    string
		payload []byte
		field   string
	}{
		{"100 000 levels deep", payload(hostile), "detail.service.additionalInfo[0][0][0][0]…"},
		{"deep at the top", payload([]byte(deep)), "[0][0][0][0][0][0][0]…"},
	} {
		t.Run(c.name, func(t *testing.T) {
			client := emu.FreshLockedBucket(t, testBucket)
			h := newHandler(t, client, newFakeFindings(t))
			_, err := h.Invoke(lambdaCtx(), c.payload)
			inv, ok := err.(*faults.InvalidInputError)
			if !ok {
				t.Fatalf("error %v is %T, want *faults.InvalidInputError (the Lambda error type)", err, err)
			}
			if inv.Field != c.field {
				t.Errorf("field %q, want %q (%v)", inv.Field, c.field, err)
			}
			if got := s3test.Keys(t, client, testBucket, evidence.CasesRoot); len(got) != 0 {
				t.Errorf("a refused input opened %q", got)
			}
			digest := sha256Hex(c.payload)
			key, _ := evidence.RejectedKey(fixedNow, digest)
			reasonKey, _ := evidence.RejectedReasonKey(fixedNow, digest)
			if got := s3test.Keys(t, client, testBucket, evidence.RejectedRoot); !reflect.DeepEqual(got, []string{key, reasonKey}) {
				t.Fatalf("rejected keys %q, want %q", got, []string{key, reasonKey})
			}
			if got := s3test.Body(t, client, testBucket, key); !bytes.Equal(got, c.payload) {
				t.Error("the rejected object is not the payload as received")
			}
		})
	}
}
