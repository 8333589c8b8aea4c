package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/finding"
)

// Invoke is the Lambda entry point (it makes Handler a lambda.Handler): it
// decodes the payload itself, so that an execution input the runtime's
// decoder cannot read (nested deeper than encoding/json's 10 000 levels)
// is refused by name and kept under rejected/ like any other refusal,
// instead of failing as a SyntaxError that no Catch names.
func (h *Handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	if err := finding.CheckJSON(payload); err != nil {
		var inv *faults.InvalidInputError
		if errors.As(err, &inv) {
			// The payload is {"input": <the execution input>, "execution": …}:
			// name the field in the execution input, as Parse does.
			field := strings.TrimPrefix(strings.TrimPrefix(inv.Field, "input"), ".")
			err = faults.Invalid(field, "%s", inv.Reason)
		}
		return nil, h.reject(ctx, payload, h.Now().UTC(), err)
	}
	var req Request
	if err := json.Unmarshal(payload, &req); err != nil {
		return nil, h.reject(ctx, payload, h.Now().UTC(), faults.Invalid("", "not a Triage request {\"input\", \"execution\"}: %v", err))
	}
	resp, err := h.Handle(ctx, req)
	if err != nil {
		return nil, err
	}
	return json.Marshal(resp)
}
