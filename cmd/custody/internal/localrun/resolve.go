package localrun

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

// Template is a synthesized CloudFormation template, with the physical IDs
// the emulator's deploy gave its resources, so intrinsic functions can be
// resolved the way CloudFormation would.
type Template struct {
	Resources map[string]Resource `json:"Resources"`
	Outputs   map[string]any      `json:"Outputs"`

	// Physical maps a logical ID to the deployed physical ID.
	Physical  map[string]string `json:"-"`
	AccountID string            `json:"-"`
	Region    string            `json:"-"`
}

// Resource is one template resource.
type Resource struct {
	Type       string         `json:"Type"`
	Properties map[string]any `json:"Properties"`
}

// LoadTemplate reads a synthesized template.
func LoadTemplate(path string) (*Template, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var t Template
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("template %s: %w", path, err)
	}
	return &t, nil
}

// OfType returns the logical IDs of resources of type typ, sorted.
func (t *Template) OfType(typ string) []string {
	var ids []string
	for id, r := range t.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// Resolve replaces Ref, Fn::GetAtt, Fn::Join, Fn::Select, Fn::Split and
// Fn::Sub in v with their values.
func (t *Template) Resolve(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			for k, arg := range x {
				if strings.HasPrefix(k, "Fn::") || k == "Ref" {
					return t.intrinsic(k, arg)
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := t.Resolve(e)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := t.Resolve(e)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	default:
		return v, nil
	}
}

// ResolveString resolves v and requires a string.
func (t *Template) ResolveString(v any) (string, error) {
	r, err := t.Resolve(v)
	if err != nil {
		return "", err
	}
	s, ok := r.(string)
	if !ok {
		return "", fmt.Errorf("resolved to %T, want a string", r)
	}
	return s, nil
}

func (t *Template) intrinsic(fn string, arg any) (any, error) {
	switch fn {
	case "Ref":
		name, _ := arg.(string)
		return t.ref(name)
	case "Fn::GetAtt":
		parts, err := getAttArgs(arg)
		if err != nil {
			return nil, err
		}
		return t.getAtt(parts[0], parts[1])
	case "Fn::Join":
		args, ok := arg.([]any)
		if !ok || len(args) != 2 {
			return nil, fmt.Errorf("Fn::Join: want [sep, list]")
		}
		sep, _ := args[0].(string)
		list, err := t.Resolve(args[1])
		if err != nil {
			return nil, err
		}
		items, ok := list.([]any)
		if !ok {
			return nil, fmt.Errorf("Fn::Join: list resolved to %T", list)
		}
		strs := make([]string, len(items))
		for i, it := range items {
			s, ok := it.(string)
			if !ok {
				return nil, fmt.Errorf("Fn::Join: item %d is %T", i, it)
			}
			strs[i] = s
		}
		return strings.Join(strs, sep), nil
	case "Fn::Select":
		args, ok := arg.([]any)
		if !ok || len(args) != 2 {
			return nil, fmt.Errorf("Fn::Select: want [index, list]")
		}
		idx, err := t.Resolve(args[0])
		if err != nil {
			return nil, err
		}
		list, err := t.Resolve(args[1])
		if err != nil {
			return nil, err
		}
		items, _ := list.([]any)
		var i int
		switch n := idx.(type) {
		case float64:
			i = int(n)
		case string:
			_, _ = fmt.Sscan(n, &i)
		}
		if i < 0 || i >= len(items) {
			return nil, fmt.Errorf("Fn::Select: index %d out of range", i)
		}
		return items[i], nil
	case "Fn::Split":
		args, ok := arg.([]any)
		if !ok || len(args) != 2 {
			return nil, fmt.Errorf("Fn::Split: want [sep, string]")
		}
		sep, _ := args[0].(string)
		s, err := t.ResolveString(args[1])
		if err != nil {
			return nil, err
		}
		var out []any
		for _, p := range strings.Split(s, sep) {
			out = append(out, p)
		}
		return out, nil
	case "Fn::Sub":
		s, ok := arg.(string)
		if !ok {
			return nil, fmt.Errorf("Fn::Sub with variables is not supported here")
		}
		var b strings.Builder
		for {
			i := strings.Index(s, "${")
			if i < 0 {
				b.WriteString(s)
				return b.String(), nil
			}
			j := strings.Index(s[i:], "}")
			if j < 0 {
				return nil, fmt.Errorf("Fn::Sub: unclosed ${ in %q", s)
			}
			b.WriteString(s[:i])
			name := s[i+2 : i+j]
			var v any
			var err error
			if id, att, ok := strings.Cut(name, "."); ok {
				v, err = t.getAtt(id, att)
			} else {
				v, err = t.ref(name)
			}
			if err != nil {
				return nil, err
			}
			b.WriteString(fmt.Sprint(v))
			s = s[i+j+1:]
		}
	}
	return nil, fmt.Errorf("intrinsic %s is not supported by the local resolver", fn)
}

func getAttArgs(arg any) ([2]string, error) {
	switch a := arg.(type) {
	case []any:
		if len(a) == 2 {
			x, _ := a[0].(string)
			y, _ := a[1].(string)
			return [2]string{x, y}, nil
		}
	case string:
		if x, y, ok := strings.Cut(a, "."); ok {
			return [2]string{x, y}, nil
		}
	}
	return [2]string{}, fmt.Errorf("Fn::GetAtt: bad argument %v", arg)
}

func (t *Template) ref(name string) (any, error) {
	switch name {
	case "AWS::AccountId":
		return t.AccountID, nil
	case "AWS::Region":
		return t.Region, nil
	case "AWS::Partition":
		return "aws", nil
	case "AWS::URLSuffix":
		return "amazonaws.com", nil
	case "AWS::StackName":
		return "Custody", nil
	case "AWS::NoValue":
		return nil, nil
	}
	id, ok := t.Physical[name]
	if !ok {
		return nil, fmt.Errorf("reference to %s: no deployed resource", name)
	}
	return id, nil
}

func (t *Template) getAtt(logical, att string) (any, error) {
	r, ok := t.Resources[logical]
	if !ok {
		return nil, fmt.Errorf("Fn::GetAtt %s.%s: no such resource", logical, att)
	}
	id, ok := t.Physical[logical]
	if !ok {
		return nil, fmt.Errorf("Fn::GetAtt %s.%s: not deployed", logical, att)
	}
	acct, region := t.AccountID, t.Region
	switch r.Type + "." + att {
	case "AWS::S3::Bucket.Arn":
		return "arn:aws:s3:::" + id, nil
	case "AWS::S3::Bucket.DomainName", "AWS::S3::Bucket.RegionalDomainName":
		return id + ".s3.amazonaws.com", nil
	case "AWS::KMS::Key.Arn":
		if strings.HasPrefix(id, "arn:") {
			return id, nil
		}
		return fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", region, acct, id), nil
	case "AWS::IAM::Role.Arn":
		return fmt.Sprintf("arn:aws:iam::%s:role/%s", acct, id), nil
	case "AWS::Lambda::Function.Arn":
		return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", region, acct, id), nil
	case "AWS::SQS::Queue.Arn":
		return fmt.Sprintf("arn:aws:sqs:%s:%s:%s", region, acct, id[strings.LastIndexByte(id, '/')+1:]), nil
	case "AWS::SNS::Topic.TopicArn":
		return id, nil
	case "AWS::Logs::LogGroup.Arn":
		return fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s:*", region, acct, id), nil
	case "AWS::StepFunctions::StateMachine.Arn":
		return id, nil
	case "AWS::StepFunctions::StateMachine.Name":
		return id[strings.LastIndexByte(id, ':')+1:], nil
	case "AWS::Events::Rule.Arn":
		return fmt.Sprintf("arn:aws:events:%s:%s:rule/%s", region, acct, id), nil
	}
	return nil, fmt.Errorf("Fn::GetAtt %s.%s (%s) is not supported by the local resolver", logical, att, r.Type)
}
