// Package samtemplate reads an AWS SAM / CloudFormation template for the
// tests that hold template.yaml to this project's own invariants (cfn-lint
// and the SAM translator check the rest: scripts/lint-template.sh); only
// tests use it. The YAML short forms of the intrinsic functions (!Ref, !Sub,
// !GetAtt, !If, ...) are turned into their JSON long forms ({"Ref": x},
// {"Fn::Sub": s}, ...), so code that inspects a template sees one shape
// whichever way it was written.
package samtemplate

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Resource types this project's template uses.
const (
	TypeFunction = "AWS::Serverless::Function"
	TypeHTTPAPI  = "AWS::Serverless::HttpApi"
	TypeBucket   = "AWS::S3::Bucket"
	TypeQueue    = "AWS::SQS::Queue"
	TypeAlarm    = "AWS::CloudWatch::Alarm"
	TypeLogGroup = "AWS::Logs::LogGroup"
	TypeTopic    = "AWS::SNS::Topic"
)

// Template is a parsed template. Values are map[string]any, []any, string,
// int, float64, bool or nil, with intrinsics in long form.
type Template struct {
	Parameters map[string]map[string]any
	Conditions map[string]any
	Globals    map[string]any
	Resources  map[string]Resource
	Outputs    map[string]map[string]any
}

// Resource is one entry of Resources.
type Resource struct {
	Type           string
	Condition      string
	DependsOn      []string // a single DependsOn becomes a list of one
	DeletionPolicy string
	// UpdateReplacePolicy: what happens to the old resource on replacement.
	UpdateReplacePolicy string
	Metadata            map[string]any
	Properties          map[string]any
}

// Load reads and parses the template at path.
func Load(path string) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Parse parses a template from YAML (JSON is YAML too).
func Parse(data []byte) (*Template, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	v, err := convert(&doc)
	if err != nil {
		return nil, err
	}
	raw, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("template is not a mapping")
	}
	t := &Template{
		Parameters: map[string]map[string]any{},
		Conditions: asMap(raw["Conditions"]),
		Globals:    asMap(raw["Globals"]),
		Resources:  map[string]Resource{},
		Outputs:    map[string]map[string]any{},
	}
	for id, p := range asMap(raw["Parameters"]) {
		t.Parameters[id] = asMap(p)
	}
	for id, o := range asMap(raw["Outputs"]) {
		t.Outputs[id] = asMap(o)
	}
	resources, ok := raw["Resources"].(map[string]any)
	if !ok {
		return nil, errors.New("template has no Resources mapping")
	}
	for id, r := range resources {
		m, ok := r.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("resource %s is not a mapping", id)
		}
		typ, _ := m["Type"].(string)
		if typ == "" {
			return nil, fmt.Errorf("resource %s has no Type", id)
		}
		cond, _ := m["Condition"].(string)
		var deps []string
		switch d := m["DependsOn"].(type) {
		case string:
			deps = []string{d}
		case []any:
			for _, x := range d {
				s, ok := x.(string)
				if !ok {
					return nil, fmt.Errorf("resource %s: DependsOn holds %v, not a logical id", id, x)
				}
				deps = append(deps, s)
			}
		case nil:
		default:
			return nil, fmt.Errorf("resource %s: DependsOn is %T, want a logical id or a list of them", id, d)
		}
		policy, _ := m["DeletionPolicy"].(string)
		replace, _ := m["UpdateReplacePolicy"].(string)
		t.Resources[id] = Resource{
			Type:                typ,
			Condition:           cond,
			DependsOn:           deps,
			DeletionPolicy:      policy,
			UpdateReplacePolicy: replace,
			Metadata:            asMap(m["Metadata"]),
			Properties:          asMap(m["Properties"]),
		}
	}
	return t, nil
}

// OfType returns the logical ids of the resources of one type, sorted.
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

// FunctionProperties returns a function's properties merged with
// Globals.Function the way SAM merges them: mappings merge key by key, lists
// concatenate, and otherwise (intrinsics included) the function's value wins.
func (t *Template) FunctionProperties(id string) map[string]any {
	r := t.Resources[id]
	g := asMap(t.Globals["Function"])
	merged, _ := mergeGlobal(g, r.Properties).(map[string]any)
	return merged
}

func mergeGlobal(global, local any) any {
	gm, gok := global.(map[string]any)
	lm, lok := local.(map[string]any)
	if gok && lok && !IsIntrinsic(gm) && !IsIntrinsic(lm) {
		out := make(map[string]any, len(gm)+len(lm))
		for k, v := range gm {
			out[k] = v
		}
		for k, v := range lm {
			if gv, ok := gm[k]; ok {
				out[k] = mergeGlobal(gv, v)
			} else {
				out[k] = v
			}
		}
		return out
	}
	gl, gok := global.([]any)
	ll, lok := local.([]any)
	if gok && lok {
		return append(append([]any{}, gl...), ll...)
	}
	if local == nil {
		return global
	}
	return local
}

// IsIntrinsic reports whether v is an intrinsic function in long form.
func IsIntrinsic(v any) bool {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false
	}
	for k := range m {
		return k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::")
	}
	return false
}

// Get walks nested mappings by key.
func Get(v any, path ...string) (any, bool) {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		v, ok = m[k]
		if !ok {
			return nil, false
		}
	}
	return v, true
}

// GetString is Get for a plain string value.
func GetString(v any, path ...string) string {
	x, _ := Get(v, path...)
	s, _ := x.(string)
	return s
}

// SubString returns the template string of an Fn::Sub value (either form).
func SubString(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok || !IsIntrinsic(m) {
		return "", false
	}
	switch s := m["Fn::Sub"].(type) {
	case string:
		return s, true
	case []any:
		if len(s) > 0 {
			str, ok := s[0].(string)
			return str, ok
		}
	}
	return "", false
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	if m == nil {
		return map[string]any{}
	}
	return m
}

// convert turns a YAML node into plain values, expanding CloudFormation tags.
func convert(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, errors.New("empty document")
		}
		return convert(n.Content[0])
	case yaml.AliasNode:
		return convert(n.Alias)
	case yaml.ScalarNode:
		if isCFNTag(n.Tag) {
			return intrinsic(n.Tag, n.Value, n)
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return v, nil
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := convert(c)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		if isCFNTag(n.Tag) {
			return intrinsic(n.Tag, l, n)
		}
		return l, nil
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, vn := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: mapping key is not a scalar", k.Line)
			}
			if k.Value == "<<" {
				return nil, fmt.Errorf("line %d: YAML merge keys are not CloudFormation", k.Line)
			}
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("line %d: duplicate key %q", k.Line, k.Value)
			}
			v, err := convert(vn)
			if err != nil {
				return nil, err
			}
			m[k.Value] = v
		}
		if isCFNTag(n.Tag) {
			return intrinsic(n.Tag, m, n)
		}
		return m, nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node kind %v", n.Line, n.Kind)
}

// isCFNTag: local tags (!Ref) as opposed to YAML's own (!!str, !!map...).
func isCFNTag(tag string) bool {
	return strings.HasPrefix(tag, "!") && !strings.HasPrefix(tag, "!!")
}

func intrinsic(tag string, v any, n *yaml.Node) (any, error) {
	name := strings.TrimPrefix(tag, "!")
	switch name {
	case "Ref", "Condition":
		return map[string]any{name: v}, nil
	case "GetAtt":
		// !GetAtt Res.Attr (the attribute may itself contain dots).
		if s, ok := v.(string); ok {
			res, attr, ok := strings.Cut(s, ".")
			if !ok {
				return nil, fmt.Errorf("line %d: !GetAtt %q has no attribute", n.Line, s)
			}
			v = []any{res, attr}
		}
	}
	return map[string]any{"Fn::" + name: v}, nil
}
