package target

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// decodeStrict decodes a config file into cfg. Unlike a plain strict decode it
// names the offending field by its full path and line ("line 12: unknown field
// capabilities.snapshot"), and it reports which fields the file set, so env
// conventions never override a value the file states, even false or 0.
func decodeStrict(data []byte, cfg *Config) (set map[string]bool, err error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, errors.New(oneLine(err.Error()))
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, errors.New("file is empty")
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: expected a mapping of fields", root.Line)
	}
	set = map[string]bool{}
	if err := checkNode(root, reflect.TypeOf(*cfg), "", set); err != nil {
		return nil, err
	}
	if err := root.Decode(cfg); err != nil {
		return nil, errors.New(oneLine(err.Error()))
	}
	return set, nil
}

// checkNode walks n against type t, rejecting unknown fields and values of
// the wrong type with the field's dotted path.
func checkNode(n *yaml.Node, t reflect.Type, path string, set map[string]bool) error {
	if path != "" {
		set[path] = true
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			f, ok := fieldByTag(t, key.Value)
			if !ok {
				return fmt.Errorf("line %d: unknown field %q%s", key.Line, join(path, key.Value), suggest(t, key.Value))
			}
			if err := checkNode(val, f.Type, join(path, key.Value), set); err != nil {
				return err
			}
		}
		return nil
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, item := range n.Content {
			if err := checkNode(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), set); err != nil {
				return err
			}
		}
		return nil
	}
	// A leaf, or a shape mismatch: let the decoder judge this node alone so
	// the message can carry the field path.
	if err := n.Decode(reflect.New(t).Interface()); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			return fmt.Errorf("%s: %s", path, te.Errors[0])
		}
		return fmt.Errorf("%s: %s", path, oneLine(err.Error()))
	}
	return nil
}

// fieldByTag finds the struct field whose yaml tag names key.
func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if name := yamlName(f); name != "" && name == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// suggest offers the right spelling when only the case differs.
func suggest(t reflect.Type, key string) string {
	for i := 0; i < t.NumField(); i++ {
		if name := yamlName(t.Field(i)); name != "" && strings.EqualFold(name, key) {
			return fmt.Sprintf(" (did you mean %q?)", name)
		}
	}
	return ""
}

func yamlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	return name
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// oneLine folds a multi-line message so every error stays on one line.
func oneLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, " ")
}
