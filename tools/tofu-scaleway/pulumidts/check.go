package pulumidts

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/ensemble-jitsi/ensemble/tools/tofu-scaleway/tfschema"
)

// BridgeReport compares derived names with the bridge's own record of the mapping.
type BridgeReport struct {
	Resources, ResourcesOK int
	Fields, FieldsOK       int
	Mismatches             []string
}

// Summary is one line of counts.
func (r *BridgeReport) Summary() string {
	return fmt.Sprintf("resource names: %d/%d as in the bridge metadata; list fields: %d/%d",
		r.ResourcesOK, r.Resources, r.FieldsOK, r.Fields)
}

type metaField struct {
	MaxItemsOne *bool `json:"maxItemsOne"`
	Elem        *struct {
		Fields map[string]metaField `json:"fields"`
	} `json:"elem"`
}

type metaResource struct {
	Current string               `json:"current"`
	Fields  map[string]metaField `json:"fields"`
}

// CheckBridgeMetadata checks every resource name and every list field the bridge recorded
// (bridge-metadata.json, "auto-aliasing") against the derived schema. The metadata may be of a
// slightly different provider version: resources it does not know are not counted.
func CheckBridgeMetadata(pkg *Package, schema *tfschema.Provider, metadata []byte) (*BridgeReport, error) {
	var doc struct {
		AutoAliasing struct {
			Resources map[string]metaResource `json:"resources"`
		} `json:"auto-aliasing"`
	}
	if err := json.Unmarshal(metadata, &doc); err != nil {
		return nil, fmt.Errorf("bridge metadata: %w", err)
	}
	byToken := map[string]string{}
	for tf, r := range doc.AutoAliasing.Resources {
		byToken[r.Current] = tf
	}
	rep := &BridgeReport{}
	for _, r := range pkg.Current() {
		tf, ok := byToken[r.Token]
		if !ok {
			continue
		}
		rep.Resources++
		got := TerraformName(r)
		if got != tf {
			rep.Mismatches = append(rep.Mismatches, fmt.Sprintf("resource %s: derived %s, bridge says %s", r.Token, got, tf))
			continue
		}
		rep.ResourcesOK++
		s := schema.ResourceSchemas[tf]
		checkFields(rep, tf, s.Block, doc.AutoAliasing.Resources[tf].Fields)
	}
	sort.Strings(rep.Mismatches)
	return rep, nil
}

func checkFields(rep *BridgeReport, path string, blk *tfschema.Block, fields map[string]metaField) {
	for _, name := range tfschema.SortedKeys(fields) {
		f := fields[name]
		rep.Fields++
		if nb, ok := blk.BlockTypes[name]; ok {
			rep.FieldsOK++
			if f.Elem != nil {
				checkFields(rep, path+"."+name, nb.Block, f.Elem.Fields)
			}
			continue
		}
		if _, ok := blk.Attributes[name]; ok {
			rep.FieldsOK++
			continue
		}
		rep.Mismatches = append(rep.Mismatches, fmt.Sprintf("field %s.%s: not in the derived schema", path, name))
	}
}
