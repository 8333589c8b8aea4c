package athena

import (
	"fmt"
	"strings"
)

// Type is a parsed Hive column type: a primitive (Kind is its name), a
// struct (Fields), an array (Elem) or a map (Key, Elem).
type Type struct {
	Kind      string // string, bigint, int, boolean, struct, array, map
	Fields    []Field
	Key, Elem *Type
}

// Field is one field of a struct type.
type Field struct {
	Name string
	Type Type
}

// ParseType parses the Hive types the tables use. It refuses anything
// else: the emulator's Glue accepts any type string, so this is where a
// typo fails.
func ParseType(s string) (Type, error) {
	p := &typeParser{s: s}
	t, err := p.parse()
	if err != nil {
		return Type{}, fmt.Errorf("type %q: %w", s, err)
	}
	if p.i != len(s) {
		return Type{}, fmt.Errorf("type %q: trailing %q", s, s[p.i:])
	}
	return t, nil
}

type typeParser struct {
	s string
	i int
}

func (p *typeParser) word() string {
	j := p.i
	for j < len(p.s) && strings.IndexByte("<>,:", p.s[j]) < 0 {
		j++
	}
	w := p.s[p.i:j]
	p.i = j
	return w
}

func (p *typeParser) expect(c byte) error {
	if p.i >= len(p.s) || p.s[p.i] != c {
		return fmt.Errorf("want %q at %d", c, p.i)
	}
	p.i++
	return nil
}

func (p *typeParser) parse() (Type, error) {
	switch w := p.word(); w {
	case "string", "bigint", "int", "boolean", "double":
		return Type{Kind: w}, nil
	case "array":
		if err := p.expect('<'); err != nil {
			return Type{}, err
		}
		e, err := p.parse()
		if err != nil {
			return Type{}, err
		}
		return Type{Kind: w, Elem: &e}, p.expect('>')
	case "map":
		if err := p.expect('<'); err != nil {
			return Type{}, err
		}
		k, err := p.parse()
		if err != nil {
			return Type{}, err
		}
		if err := p.expect(','); err != nil {
			return Type{}, err
		}
		e, err := p.parse()
		if err != nil {
			return Type{}, err
		}
		return Type{Kind: w, Key: &k, Elem: &e}, p.expect('>')
	case "struct":
		if err := p.expect('<'); err != nil {
			return Type{}, err
		}
		t := Type{Kind: w}
		for {
			name := p.word()
			if name == "" {
				return Type{}, fmt.Errorf("empty field name at %d", p.i)
			}
			if err := p.expect(':'); err != nil {
				return Type{}, err
			}
			ft, err := p.parse()
			if err != nil {
				return Type{}, err
			}
			t.Fields = append(t.Fields, Field{Name: name, Type: ft})
			if p.i < len(p.s) && p.s[p.i] == ',' {
				p.i++
				continue
			}
			return t, p.expect('>')
		}
	default:
		return Type{}, fmt.Errorf("unknown type %q", w)
	}
}
