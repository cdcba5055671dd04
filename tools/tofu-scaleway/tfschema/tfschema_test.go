package tfschema

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

func TestParseSmall(t *testing.T) {
	b, err := os.ReadFile("testdata/small.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	blk := p.ResourceSchemas["x_server"].Block
	want := tftypes.Object{AttributeTypes: map[string]tftypes.Type{
		"id": tftypes.String, "name": tftypes.String,
		"tags":   tftypes.List{ElementType: tftypes.String},
		"labels": tftypes.Map{ElementType: tftypes.String},
		"ips":    tftypes.List{ElementType: tftypes.Object{AttributeTypes: map[string]tftypes.Type{"address": tftypes.String}}},
		"volume": tftypes.List{ElementType: tftypes.Object{AttributeTypes: map[string]tftypes.Type{"size": tftypes.Number, "volume_id": tftypes.String}}},
	}}
	if got := blk.ValueType(); !got.Equal(want) {
		t.Fatalf("value type\n got %s\nwant %s", got, want)
	}
	proto := p.ResourceSchemas["x_server"].Proto()
	var names []string
	for _, a := range proto.Block.Attributes {
		names = append(names, a.Name)
	}
	if strings.Join(names, ",") != "id,ips,labels,name,tags" || len(proto.Block.BlockTypes) != 1 || proto.Block.BlockTypes[0].MaxItems != 1 {
		t.Fatalf("proto: attributes %v, blocks %+v", names, proto.Block.BlockTypes)
	}
	// Round trip: what we write reads back the same.
	out, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	if !again.ResourceSchemas["x_server"].Block.ValueType().Equal(want) {
		t.Fatal("round trip changed the schema")
	}
}

func TestParseRejects(t *testing.T) {
	for name, c := range map[string]struct{ doc, want string }{
		"not json":          {`{`, "tfschema"},
		"no version":        {`{"provider":{"block":{}}}`, "version is required"},
		"no provider":       {`{"version":"1"}`, "provider block is required"},
		"unknown type":      {`{"version":"1","provider":{"block":{"attributes":{"a":{"type":"int","optional":true}}}}}`, "unknown primitive type"},
		"bad collection":    {`{"version":"1","provider":{"block":{"attributes":{"a":{"type":["list"],"optional":true}}}}}`, "want 2"},
		"no flags":          {`{"version":"1","provider":{"block":{"attributes":{"a":{"type":"string"}}}}}`, "neither required"},
		"required+computed": {`{"version":"1","provider":{"block":{"attributes":{"a":{"type":"string","required":true,"computed":true}}}}}`, "required cannot be"},
		"nesting":           {`{"version":"1","provider":{"block":{}},"resource_schemas":{"r":{"block":{"block_types":{"b":{"nesting_mode":"map","block":{}}}}}}}`, "unknown nesting mode"},
		"resource no block": {`{"version":"1","provider":{"block":{}},"resource_schemas":{"r":{}}}`, "has no block"},
	} {
		_, err := Parse([]byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to contain %q", name, err, c.want)
		}
	}
}

// FuzzParse: any document parses or fails with an error; a parsed one converts to the protocol.
func FuzzParse(f *testing.F) {
	b, err := os.ReadFile("testdata/small.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"version":"1","provider":{"block":{"attributes":{"a":{"type":["object",{"b":["set","bool"]}],"optional":true}}}}}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, err := Parse(doc)
		if err != nil {
			return
		}
		_ = p.Provider.Proto()
		for _, s := range p.ResourceSchemas {
			_ = s.Proto()
			_ = s.Block.ValueType()
		}
	})
}
