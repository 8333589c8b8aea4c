package collect

import "encoding/json"

// Request is an SDK input's parameters as the manifest records them: the
// API's member names (the SDK's input structs marshal with them), without
// the unset ones (nil, "", an empty enum, list or object).
func Request(in any) map[string]any {
	b, err := json.Marshal(in)
	if err != nil {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil
	}
	m, _ = prune(m).(map[string]any)
	return m
}

// prune drops a decoded JSON value's unset members; it returns nil when v
// itself is unset.
func prune(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		if x == "" {
			return nil
		}
	case map[string]any:
		for k, e := range x {
			if e = prune(e); e == nil {
				delete(x, k)
			} else {
				x[k] = e
			}
		}
		if len(x) == 0 {
			return nil
		}
	case []any:
		var kept []any
		for _, e := range x {
			if e = prune(e); e != nil {
				kept = append(kept, e)
			}
		}
		if len(kept) == 0 {
			return nil
		}
		return kept
	}
	return v
}
