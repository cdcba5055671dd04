// Package tfschema is a provider schema document: the JSON shape `tofu providers schema -json`
// prints for one provider, read and written as a file, and turned into the plugin protocol's
// schema types. The stand-in provider serves a document of this kind; the generator writes one.
package tfschema

import (
	"encoding/json"
	"fmt"
	"sort"
)

// Provider is one provider's schema, with where it came from.
type Provider struct {
	// Source says what the schema was generated from (package and version), for people.
	Source string `json:"source"`
	// Version is the provider version the stand-in reports and installs as.
	Version         string             `json:"version"`
	Provider        *Schema            `json:"provider"`
	ResourceSchemas map[string]*Schema `json:"resource_schemas"`
}

// Schema is a resource's (or the provider configuration's) schema.
type Schema struct {
	Version int64  `json:"version"`
	Block   *Block `json:"block"`
}

// Block is a configuration block: attributes and nested blocks.
type Block struct {
	Attributes  map[string]*Attribute   `json:"attributes,omitempty"`
	BlockTypes  map[string]*NestedBlock `json:"block_types,omitempty"`
	Description string                  `json:"description,omitempty"`
	Deprecated  bool                    `json:"deprecated,omitempty"`
}

// Attribute is one argument or exported attribute.
type Attribute struct {
	Type        Type   `json:"type"`
	Description string `json:"description,omitempty"`
	Required    bool   `json:"required,omitempty"`
	Optional    bool   `json:"optional,omitempty"`
	Computed    bool   `json:"computed,omitempty"`
	Sensitive   bool   `json:"sensitive,omitempty"`
	Deprecated  bool   `json:"deprecated,omitempty"`
}

// NestedBlock is a block type inside a block.
type NestedBlock struct {
	NestingMode string `json:"nesting_mode"` // "list", "set" or "single"
	Block       *Block `json:"block"`
	MinItems    int64  `json:"min_items,omitempty"`
	MaxItems    int64  `json:"max_items,omitempty"`
}

// Type is a value type in cty's JSON form: "string", "number", "bool", "dynamic",
// ["list", T], ["set", T], ["map", T], ["object", {name: T}].
type Type struct {
	Kind string // string, number, bool, dynamic, list, set, map, object
	Elem *Type
	Attr map[string]Type
}

// Primitive types.
var (
	String  = Type{Kind: "string"}
	Number  = Type{Kind: "number"}
	Bool    = Type{Kind: "bool"}
	Dynamic = Type{Kind: "dynamic"}
)

// ListOf, MapOf and SetOf build collection types.
func ListOf(t Type) Type { return Type{Kind: "list", Elem: &t} }

// MapOf builds a map type.
func MapOf(t Type) Type { return Type{Kind: "map", Elem: &t} }

// SetOf builds a set type.
func SetOf(t Type) Type { return Type{Kind: "set", Elem: &t} }

// MarshalJSON writes the cty JSON form.
func (t Type) MarshalJSON() ([]byte, error) {
	switch t.Kind {
	case "string", "number", "bool", "dynamic":
		return json.Marshal(t.Kind)
	case "list", "set", "map":
		if t.Elem == nil {
			return nil, fmt.Errorf("type: %s type without element type", t.Kind)
		}
		return json.Marshal([]any{t.Kind, *t.Elem})
	case "object":
		return json.Marshal([]any{"object", t.Attr})
	}
	return nil, fmt.Errorf("type: unknown type kind %q", t.Kind)
}

// UnmarshalJSON reads the cty JSON form.
func (t *Type) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		switch s {
		case "string", "number", "bool", "dynamic":
			*t = Type{Kind: s}
			return nil
		}
		return fmt.Errorf("type: unknown primitive type %q", s)
	}
	var pair []json.RawMessage
	if err := json.Unmarshal(b, &pair); err != nil {
		return fmt.Errorf("type: type is neither a string nor an array: %w", err)
	}
	if len(pair) != 2 {
		return fmt.Errorf("type: type array has %d elements, want 2", len(pair))
	}
	if err := json.Unmarshal(pair[0], &s); err != nil {
		return fmt.Errorf("type: type kind: %w", err)
	}
	switch s {
	case "list", "set", "map":
		var e Type
		if err := json.Unmarshal(pair[1], &e); err != nil {
			return fmt.Errorf("type: %s element: %w", s, err)
		}
		*t = Type{Kind: s, Elem: &e}
		return nil
	case "object":
		var attrs map[string]Type
		if err := json.Unmarshal(pair[1], &attrs); err != nil {
			return fmt.Errorf("type: object attributes: %w", err)
		}
		*t = Type{Kind: s, Attr: attrs}
		return nil
	}
	return fmt.Errorf("type: unknown type kind %q", s)
}

// Parse reads a schema document and checks it is well formed.
func Parse(b []byte) (*Provider, error) {
	var p Provider
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("tfschema: %w", err)
	}
	if p.Version == "" {
		return nil, fmt.Errorf("tfschema: version is required")
	}
	if p.Provider == nil || p.Provider.Block == nil {
		return nil, fmt.Errorf("tfschema: provider block is required")
	}
	if err := p.Provider.Block.check("provider"); err != nil {
		return nil, err
	}
	for _, name := range SortedKeys(p.ResourceSchemas) {
		s := p.ResourceSchemas[name]
		if s == nil || s.Block == nil {
			return nil, fmt.Errorf("tfschema: resource %s has no block", name)
		}
		if err := s.Block.check(name); err != nil {
			return nil, err
		}
	}
	return &p, nil
}

func (b *Block) check(path string) error {
	for _, name := range SortedKeys(b.Attributes) {
		a := b.Attributes[name]
		if a == nil {
			return fmt.Errorf("tfschema: %s.%s: null attribute", path, name)
		}
		if a.Type.Kind == "" {
			return fmt.Errorf("tfschema: %s.%s: no type", path, name)
		}
		if !a.Required && !a.Optional && !a.Computed {
			return fmt.Errorf("tfschema: %s.%s: neither required, optional nor computed", path, name)
		}
		if a.Required && (a.Optional || a.Computed) {
			return fmt.Errorf("tfschema: %s.%s: required cannot be optional or computed", path, name)
		}
		if _, dup := b.BlockTypes[name]; dup {
			return fmt.Errorf("tfschema: %s.%s: both an attribute and a block", path, name)
		}
	}
	for _, name := range SortedKeys(b.BlockTypes) {
		nb := b.BlockTypes[name]
		if nb == nil || nb.Block == nil {
			return fmt.Errorf("tfschema: %s.%s: null block", path, name)
		}
		switch nb.NestingMode {
		case "list", "set", "single":
		default:
			return fmt.Errorf("tfschema: %s.%s: unknown nesting mode %q", path, name, nb.NestingMode)
		}
		if err := nb.Block.check(path + "." + name); err != nil {
			return err
		}
	}
	return nil
}

// SortedKeys returns a map's keys in order, for deterministic output and errors.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
