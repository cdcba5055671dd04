package pulumidts

import (
	"fmt"
	"strings"

	"github.com/ensemble-jitsi/ensemble/tools/tofu-scaleway/tfschema"
)

// Schema rebuilds the Terraform schema of every current resource and of the provider
// configuration. How a Pulumi property maps back to Terraform:
//
//   - required: in <Class>Args without "?"; optional: in Args with "?"; optional and also
//     computed: optional in Args and never undefined on the class (the provider fills it in);
//     computed only: in <Class>State but not in Args.
//   - a property typed as one object (the bridge flattens MaxItems=1 lists) is a nested block
//     of nesting "list" with max_items 1, as the SDKv2 provider declares it; an array of objects
//     is a "list" block, named in the singular (the bridge pluralised it). Computed-only objects
//     are attributes of type list(object), as SDKv2 presents them.
//   - every resource gets the SDKv2 "id" attribute (optional and computed).
//   - sensitive: the property is in the class's additionalSecretOutputs.
//
// What the TypeScript cannot say, and so is not in the result: set vs list (all are lists),
// min_items, defaults, validation functions, ForceNew, ConflictsWith, "timeouts" blocks, and
// integer vs float (both are number).
func (pkg *Package) Schema(version string) (*tfschema.Provider, error) {
	out := &tfschema.Provider{
		Source:          fmt.Sprintf("npm %s@%s (TypeScript declarations)", pkg.Name, pkg.Version),
		Version:         version,
		ResourceSchemas: map[string]*tfschema.Schema{},
	}
	b := builder{pkg: pkg}
	pb, err := b.block("provider", pkg.Provider, nil, nil, map[string]bool{"accessKey": true, "secretKey": true})
	if err != nil {
		return nil, err
	}
	// Pulumi reads provider settings from its config too, so no provider argument is required.
	for _, a := range pb.Attributes {
		if a.Required {
			a.Required, a.Optional = false, true
		}
	}
	out.Provider = &tfschema.Schema{Block: pb}
	for _, r := range pkg.Current() {
		name := TerraformName(r)
		if _, dup := out.ResourceSchemas[name]; dup {
			return nil, fmt.Errorf("pulumidts: two resources map to %s", name)
		}
		secrets := map[string]bool{}
		for _, s := range r.Secrets {
			secrets[s] = true
		}
		state := r.State
		if len(state) == 0 {
			state = r.Class // resources without state interface: the class has every output
		}
		blk, err := b.block(name, state, r.Args, r.Class, secrets)
		if err != nil {
			return nil, err
		}
		if _, ok := blk.Attributes["id"]; !ok {
			blk.Attributes["id"] = &tfschema.Attribute{Type: tfschema.String, Optional: true, Computed: true}
		}
		out.ResourceSchemas[name] = &tfschema.Schema{Block: blk}
	}
	return out, nil
}

type builder struct{ pkg *Package }

// block builds a block from all of its properties (all), the configurable ones (args, nil for
// the provider where all are arguments) and the outputs (nil when unknown).
func (b builder) block(path string, all, args, outputs []Prop, secrets map[string]bool) (*tfschema.Block, error) {
	blk := &tfschema.Block{Attributes: map[string]*tfschema.Attribute{}, BlockTypes: map[string]*tfschema.NestedBlock{}}
	argOf := index(args)
	outOf := index(outputs)
	if args == nil {
		argOf = index(all)
	}
	for _, p := range all {
		arg, isArg := argOf[p.Name]
		out, hasOut := outOf[p.Name]
		t := p.Type
		if isArg {
			t = arg.Type
		}
		name := Snake(p.Name)
		attr := &tfschema.Attribute{Description: p.Doc, Deprecated: p.Deprecated, Sensitive: secrets[p.Name]}
		switch {
		case isArg && !arg.Optional:
			attr.Required = true
		case isArg:
			attr.Optional = true
			attr.Computed = hasOut && !out.Type.Undefined && !out.Optional
		default:
			attr.Computed = true
		}
		obj, isList := b.objectRef(t)
		if obj == "" {
			ty, err := b.attrType(t)
			if err != nil {
				return nil, fmt.Errorf("pulumidts: %s.%s: %w", path, name, err)
			}
			attr.Type = ty
			if scalarListsOfOne[path+"."+name] {
				attr.Type = tfschema.ListOf(ty)
			}
			if r, ok := fieldRenames[path+"."+name]; ok {
				name = r
			}
			blk.Attributes[name] = attr
			continue
		}
		inProps, okIn := b.pkg.Inputs[obj]
		outProps, okOut := b.pkg.Outputs[obj]
		if !okIn && !okOut {
			return nil, fmt.Errorf("pulumidts: %s.%s: unknown type %s", path, name, obj)
		}
		if isList {
			name = Snake(Singular(p.Name))
			if !isArg {
				name = Snake(p.Name) // computed lists keep their (plural) Terraform names
			}
		}
		if r, ok := fieldRenames[path+"."+name]; ok {
			name = r
		}
		if !isArg {
			// Computed-only nested objects are plain attributes of type list(object).
			ty, err := b.objectType(obj)
			if err != nil {
				return nil, fmt.Errorf("pulumidts: %s.%s: %w", path, name, err)
			}
			attr.Type = tfschema.ListOf(ty)
			blk.Attributes[name] = attr
			continue
		}
		nested, err := b.block(path+"."+name, union(inProps, outProps), inProps, outProps, nil)
		if err != nil {
			return nil, err
		}
		nested.Description = p.Doc
		nb := &tfschema.NestedBlock{NestingMode: "list", Block: nested}
		if !isList {
			nb.MaxItems = 1
		}
		if attr.Required {
			nb.MinItems = 1
		}
		if _, dup := blk.Attributes[name]; dup {
			return nil, fmt.Errorf("pulumidts: %s.%s: both an attribute and a block", path, name)
		}
		blk.BlockTypes[name] = nb
	}
	for name := range blk.BlockTypes {
		if _, dup := blk.Attributes[name]; dup {
			return nil, fmt.Errorf("pulumidts: %s.%s: both an attribute and a block", path, name)
		}
	}
	return blk, nil
}

// objectRef returns the namespace-qualified object type behind t (instance.ServerRootVolume),
// and whether t is an array of it; "" when t is not an object or array of objects.
func (b builder) objectRef(t *TSType) (string, bool) {
	switch {
	case t.Kind == "ref":
		return refName(t.Ref), false
	case t.Kind == "array" && t.Elem.Kind == "ref":
		return refName(t.Elem.Ref), true
	}
	return "", false
}

func refName(ref string) string {
	for _, p := range []string{"inputs.", "outputs."} {
		ref = strings.TrimPrefix(ref, p)
	}
	return ref
}

func (b builder) attrType(t *TSType) (tfschema.Type, error) {
	switch t.Kind {
	case "string":
		return tfschema.String, nil
	case "number":
		return tfschema.Number, nil
	case "boolean":
		return tfschema.Bool, nil
	case "any":
		return tfschema.Dynamic, nil
	case "array":
		e, err := b.attrType(t.Elem)
		if err != nil {
			return tfschema.Type{}, err
		}
		return tfschema.ListOf(e), nil
	case "map":
		e, err := b.attrType(t.Elem)
		if err != nil {
			return tfschema.Type{}, err
		}
		return tfschema.MapOf(e), nil
	case "ref":
		return b.objectType(refName(t.Ref))
	}
	return tfschema.Type{}, fmt.Errorf("type %s has no Terraform equivalent", t.Kind)
}

func (b builder) objectType(obj string) (tfschema.Type, error) {
	inProps, okIn := b.pkg.Inputs[obj]
	outProps, okOut := b.pkg.Outputs[obj]
	props := union(inProps, outProps)
	if !okIn && !okOut {
		return tfschema.Type{}, fmt.Errorf("unknown type %s", obj)
	}
	attrs := map[string]tfschema.Type{}
	for _, p := range props {
		ty, err := b.attrType(p.Type)
		if err != nil {
			return tfschema.Type{}, fmt.Errorf("%s.%s: %w", obj, p.Name, err)
		}
		attrs[Snake(p.Name)] = ty
	}
	return tfschema.Type{Kind: "object", Attr: attrs}, nil
}

func index(props []Prop) map[string]Prop {
	m := make(map[string]Prop, len(props))
	for _, p := range props {
		m[p.Name] = p
	}
	return m
}

// union is a's properties followed by those of b that a lacks.
func union(a, b []Prop) []Prop {
	seen := index(a)
	out := append([]Prop(nil), a...)
	for _, p := range b {
		if _, ok := seen[p.Name]; !ok {
			out = append(out, p)
		}
	}
	return out
}
