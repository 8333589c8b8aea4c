package scenario

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"

	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

var ddbTags = map[string]bool{"S": true, "N": true, "B": true, "SS": true, "NS": true, "BS": true, "M": true, "L": true, "NULL": true, "BOOL": true}

// itemFromJSON reads a table item written in DynamoDB JSON ({"id": {"S":
// "1"}}) or in plain JSON ({"id": "1"}). It is DynamoDB JSON when every
// attribute is an object with exactly one type key.
func itemFromJSON(b []byte) (map[string]ddbtypes.AttributeValue, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("item: %w", err)
	}
	typed := len(raw) > 0
	for _, v := range raw {
		var m map[string]json.RawMessage
		if json.Unmarshal(v, &m) != nil || len(m) != 1 {
			typed = false
			break
		}
		for k := range m {
			typed = typed && ddbTags[k]
		}
	}
	out := map[string]ddbtypes.AttributeValue{}
	for k, v := range raw {
		var av ddbtypes.AttributeValue
		var err error
		if typed {
			av, err = typedAV(v)
		} else {
			var x any
			dec := json.NewDecoder(bytes.NewReader(v))
			dec.UseNumber()
			if err = dec.Decode(&x); err == nil {
				av = plainAV(x)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("item attribute %q: %w", k, err)
		}
		out[k] = av
	}
	return out, nil
}

func plainAV(x any) ddbtypes.AttributeValue {
	switch v := x.(type) {
	case nil:
		return &ddbtypes.AttributeValueMemberNULL{Value: true}
	case bool:
		return &ddbtypes.AttributeValueMemberBOOL{Value: v}
	case json.Number:
		return &ddbtypes.AttributeValueMemberN{Value: v.String()}
	case string:
		return &ddbtypes.AttributeValueMemberS{Value: v}
	case []any:
		l := make([]ddbtypes.AttributeValue, len(v))
		for i, e := range v {
			l[i] = plainAV(e)
		}
		return &ddbtypes.AttributeValueMemberL{Value: l}
	case map[string]any:
		m := map[string]ddbtypes.AttributeValue{}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			m[k] = plainAV(v[k])
		}
		return &ddbtypes.AttributeValueMemberM{Value: m}
	}
	return &ddbtypes.AttributeValueMemberNULL{Value: true}
}

func typedAV(b json.RawMessage) (ddbtypes.AttributeValue, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil || len(m) != 1 {
		return nil, fmt.Errorf("want one DynamoDB type key, got %s", b)
	}
	for tag, v := range m {
		switch tag {
		case "S", "N":
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, fmt.Errorf("type %s: %w", tag, err)
			}
			if tag == "S" {
				return &ddbtypes.AttributeValueMemberS{Value: s}, nil
			}
			return &ddbtypes.AttributeValueMemberN{Value: s}, nil
		case "B":
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, fmt.Errorf("type B: %w", err)
			}
			d, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, fmt.Errorf("type B: %w", err)
			}
			return &ddbtypes.AttributeValueMemberB{Value: d}, nil
		case "SS", "NS", "BS":
			var l []string
			if err := json.Unmarshal(v, &l); err != nil {
				return nil, fmt.Errorf("type %s: %w", tag, err)
			}
			switch tag {
			case "SS":
				return &ddbtypes.AttributeValueMemberSS{Value: l}, nil
			case "NS":
				return &ddbtypes.AttributeValueMemberNS{Value: l}, nil
			}
			bs := make([][]byte, len(l))
			for i, s := range l {
				d, err := base64.StdEncoding.DecodeString(s)
				if err != nil {
					return nil, fmt.Errorf("type BS: %w", err)
				}
				bs[i] = d
			}
			return &ddbtypes.AttributeValueMemberBS{Value: bs}, nil
		case "BOOL", "NULL":
			var x bool
			if err := json.Unmarshal(v, &x); err != nil {
				return nil, fmt.Errorf("type %s: %w", tag, err)
			}
			if tag == "BOOL" {
				return &ddbtypes.AttributeValueMemberBOOL{Value: x}, nil
			}
			return &ddbtypes.AttributeValueMemberNULL{Value: x}, nil
		case "L":
			var l []json.RawMessage
			if err := json.Unmarshal(v, &l); err != nil {
				return nil, fmt.Errorf("type L: %w", err)
			}
			out := make([]ddbtypes.AttributeValue, len(l))
			for i, e := range l {
				av, err := typedAV(e)
				if err != nil {
					return nil, err
				}
				out[i] = av
			}
			return &ddbtypes.AttributeValueMemberL{Value: out}, nil
		case "M":
			var mm map[string]json.RawMessage
			if err := json.Unmarshal(v, &mm); err != nil {
				return nil, fmt.Errorf("type M: %w", err)
			}
			out := map[string]ddbtypes.AttributeValue{}
			for k, e := range mm {
				av, err := typedAV(e)
				if err != nil {
					return nil, err
				}
				out[k] = av
			}
			return &ddbtypes.AttributeValueMemberM{Value: out}, nil
		}
		return nil, fmt.Errorf("unknown DynamoDB type %q", tag)
	}
	return nil, nil
}
