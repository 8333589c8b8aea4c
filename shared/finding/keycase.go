package finding

import (
	"encoding/json"
	"unicode"
	"unicode/utf8"
)

// keyExceptions are the GuardDuty members whose JSON name is not their
// PascalCase name with the first letter lowered (from the service model's
// jsonName traits).
var keyExceptions = map[string]string{
	"SourceIps":     "sourceIPs",
	"TaskCreatedAt": "createdAt",
}

// productCodeKeys are the exceptions inside productCodes elements.
var productCodeKeys = map[string]string{
	"Code":        "productCodeId",
	"ProductType": "productCodeType",
}

// camelKey converts one PascalCase key. Only keys that look like member names
// (an upper-case letter then letters and digits) are converted: keys such as
// "AWS::S3::Bucket" in affectedResources are data and stay as they are.
// Lowering the first letter is enough for acronyms as GuardDuty spells them
// (IpAddressV4 -> ipAddressV4, EksClusterDetails -> eksClusterDetails,
// S3BucketDetails -> s3BucketDetails).
func camelKey(k string, exceptions map[string]string) string {
	if v, ok := exceptions[k]; ok {
		return v
	}
	if v, ok := keyExceptions[k]; ok {
		return v
	}
	r, size := utf8.DecodeRuneInString(k)
	if r == utf8.RuneError || !unicode.IsUpper(r) || r > unicode.MaxASCII {
		return k
	}
	for _, c := range k[size:] {
		if c > unicode.MaxASCII || !(unicode.IsLetter(c) || unicode.IsDigit(c)) {
			return k
		}
	}
	return string(unicode.ToLower(r)) + k[size:]
}

// camelCase returns v (decoded JSON) with every object key converted by
// camelKey.
func camelCase(v any, exceptions map[string]string) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		// Keys already spelled as the API does win over converted ones
		// ("id" beside "Id"), whatever the map's order.
		for _, pass := range []bool{true, false} {
			for k, val := range x {
				nk := camelKey(k, exceptions)
				if (nk == k) != pass {
					continue
				}
				if _, clash := out[nk]; clash {
					continue
				}
				var inner map[string]string
				if k == "ProductCodes" || k == "productCodes" {
					inner = productCodeKeys
				}
				out[nk] = camelCase(val, inner)
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = camelCase(val, exceptions)
		}
		return out
	default:
		return v
	}
}

// pascalToCamel converts a PascalCase GuardDuty finding (as the CLI and SDKs
// print it) to the camelCase JSON of the EventBridge detail. The API's
// additionalInfo ({"Value": "<JSON text>", "Type": "default"}) becomes the
// object its Value holds, as in the EventBridge form.
func pascalToCamel(raw []byte) ([]byte, error) {
	var v any
	dec := newDecoder(raw)
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	c := camelCase(v, nil)
	if m, ok := c.(map[string]any); ok {
		if svc, ok := m["service"].(map[string]any); ok {
			if info, ok := svc["additionalInfo"].(map[string]any); ok {
				if text, ok := info["value"].(string); ok && len(info) <= 2 {
					var obj map[string]any
					d := newDecoder([]byte(text))
					if d.Decode(&obj) == nil && obj != nil {
						svc["additionalInfo"] = obj
					}
				}
			}
		}
	}
	return json.Marshal(c)
}
