package tfschema

import (
	"github.com/hashicorp/terraform-plugin-go/tfprotov5"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// TFType is the plugin protocol's form of t.
func (t Type) TFType() tftypes.Type {
	switch t.Kind {
	case "string":
		return tftypes.String
	case "number":
		return tftypes.Number
	case "bool":
		return tftypes.Bool
	case "list":
		return tftypes.List{ElementType: t.Elem.TFType()}
	case "set":
		return tftypes.Set{ElementType: t.Elem.TFType()}
	case "map":
		return tftypes.Map{ElementType: t.Elem.TFType()}
	case "object":
		attrs := make(map[string]tftypes.Type, len(t.Attr))
		for k, v := range t.Attr {
			attrs[k] = v.TFType()
		}
		return tftypes.Object{AttributeTypes: attrs}
	}
	return tftypes.DynamicPseudoType
}

// Proto is the plugin protocol's form of s.
func (s *Schema) Proto() *tfprotov5.Schema {
	return &tfprotov5.Schema{Version: s.Version, Block: s.Block.Proto()}
}

// Proto is the plugin protocol's form of b. Attributes and blocks are sorted by name, as the
// protocol expects a stable order.
func (b *Block) Proto() *tfprotov5.SchemaBlock {
	out := &tfprotov5.SchemaBlock{Description: b.Description, Deprecated: b.Deprecated}
	for _, name := range SortedKeys(b.Attributes) {
		a := b.Attributes[name]
		out.Attributes = append(out.Attributes, &tfprotov5.SchemaAttribute{
			Name:        name,
			Type:        a.Type.TFType(),
			Description: a.Description,
			Required:    a.Required,
			Optional:    a.Optional,
			Computed:    a.Computed,
			Sensitive:   a.Sensitive,
			Deprecated:  a.Deprecated,
		})
	}
	for _, name := range SortedKeys(b.BlockTypes) {
		nb := b.BlockTypes[name]
		mode := tfprotov5.SchemaNestedBlockNestingModeList
		switch nb.NestingMode {
		case "set":
			mode = tfprotov5.SchemaNestedBlockNestingModeSet
		case "single":
			mode = tfprotov5.SchemaNestedBlockNestingModeSingle
		}
		out.BlockTypes = append(out.BlockTypes, &tfprotov5.SchemaNestedBlock{
			TypeName: name,
			Block:    nb.Block.Proto(),
			Nesting:  mode,
			MinItems: nb.MinItems,
			MaxItems: nb.MaxItems,
		})
	}
	return out
}

// ValueType is the object type of a value of this block (config, plan or state).
func (b *Block) ValueType() tftypes.Object {
	attrs := make(map[string]tftypes.Type, len(b.Attributes)+len(b.BlockTypes))
	for name, a := range b.Attributes {
		attrs[name] = a.Type.TFType()
	}
	for name, nb := range b.BlockTypes {
		et := nb.Block.ValueType()
		switch nb.NestingMode {
		case "set":
			attrs[name] = tftypes.Set{ElementType: et}
		case "single":
			attrs[name] = et
		default:
			attrs[name] = tftypes.List{ElementType: et}
		}
	}
	return tftypes.Object{AttributeTypes: attrs}
}
