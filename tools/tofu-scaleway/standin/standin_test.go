package standin

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov5"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/ensemble-jitsi/ensemble/tools/tofu-scaleway/tfschema"
)

func server(t *testing.T) (*Server, tftypes.Object) {
	t.Helper()
	b, err := os.ReadFile("../tfschema/testdata/small.json")
	if err != nil {
		t.Fatal(err)
	}
	s, err := tfschema.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return New(s), s.ResourceSchemas["x_server"].Block.ValueType()
}

func dv(t *testing.T, typ tftypes.Type, v tftypes.Value) *tfprotov5.DynamicValue {
	t.Helper()
	d, err := tfprotov5.NewDynamicValue(typ, v)
	if err != nil {
		t.Fatal(err)
	}
	return &d
}

func TestPlanCreateMarksComputedUnknown(t *testing.T) {
	srv, typ := server(t)
	volType := typ.AttributeTypes["volume"].(tftypes.List).ElementType.(tftypes.Object)
	proposed := tftypes.NewValue(typ, map[string]tftypes.Value{
		"id":     tftypes.NewValue(tftypes.String, nil),
		"name":   tftypes.NewValue(tftypes.String, "web-1"),
		"tags":   tftypes.NewValue(typ.AttributeTypes["tags"], nil),
		"labels": tftypes.NewValue(typ.AttributeTypes["labels"], nil),
		"ips":    tftypes.NewValue(typ.AttributeTypes["ips"], nil),
		"volume": tftypes.NewValue(typ.AttributeTypes["volume"], []tftypes.Value{tftypes.NewValue(volType, map[string]tftypes.Value{
			"size":      tftypes.NewValue(tftypes.Number, nil),
			"volume_id": tftypes.NewValue(tftypes.String, nil),
		})}),
	})
	resp, err := srv.PlanResourceChange(context.Background(), &tfprotov5.PlanResourceChangeRequest{
		TypeName:         "x_server",
		PriorState:       dv(t, typ, tftypes.NewValue(typ, nil)),
		ProposedNewState: dv(t, typ, proposed),
		Config:           dv(t, typ, proposed),
	})
	if err != nil || len(resp.Diagnostics) > 0 {
		t.Fatalf("plan: %v %v", err, resp.Diagnostics)
	}
	planned, err := resp.PlannedState.Unmarshal(typ)
	if err != nil {
		t.Fatal(err)
	}
	var attrs map[string]tftypes.Value
	if err := planned.As(&attrs); err != nil {
		t.Fatal(err)
	}
	for name, wantUnknown := range map[string]bool{"id": true, "labels": true, "ips": true, "tags": false, "name": false} {
		if got := !attrs[name].IsKnown(); got != wantUnknown {
			t.Errorf("%s unknown = %v, want %v", name, got, wantUnknown)
		}
	}
	var name string
	if err := attrs["name"].As(&name); err != nil || name != "web-1" {
		t.Errorf("name = %q, %v; want the configured web-1", name, err)
	}
	var vols []tftypes.Value
	if err := attrs["volume"].As(&vols); err != nil || len(vols) != 1 {
		t.Fatalf("volume: %v %v", vols, err)
	}
	var vol map[string]tftypes.Value
	if err := vols[0].As(&vol); err != nil {
		t.Fatal(err)
	}
	if vol["volume_id"].IsKnown() || !vol["size"].IsKnown() || !vol["size"].IsNull() {
		t.Errorf("volume: volume_id (computed) must be unknown and size (optional) null: %v", vol)
	}
}

func TestPlanUpdateKeepsProposed(t *testing.T) {
	srv, typ := server(t)
	prior := tftypes.NewValue(typ, map[string]tftypes.Value{
		"id": tftypes.NewValue(tftypes.String, "1"), "name": tftypes.NewValue(tftypes.String, "a"),
		"tags": tftypes.NewValue(typ.AttributeTypes["tags"], nil), "labels": tftypes.NewValue(typ.AttributeTypes["labels"], nil),
		"ips": tftypes.NewValue(typ.AttributeTypes["ips"], nil), "volume": tftypes.NewValue(typ.AttributeTypes["volume"], nil),
	})
	resp, err := srv.PlanResourceChange(context.Background(), &tfprotov5.PlanResourceChangeRequest{
		TypeName: "x_server", PriorState: dv(t, typ, prior), ProposedNewState: dv(t, typ, prior), Config: dv(t, typ, prior),
	})
	if err != nil || len(resp.Diagnostics) > 0 {
		t.Fatalf("plan: %v %v", err, resp.Diagnostics)
	}
	got, err := resp.PlannedState.Unmarshal(typ)
	if err != nil || !got.Equal(prior) {
		t.Fatalf("planned %v, want the proposed state unchanged (%v)", got, err)
	}
}

func TestRefusesApplyAndUnknownTypes(t *testing.T) {
	srv, _ := server(t)
	ar, err := srv.ApplyResourceChange(context.Background(), &tfprotov5.ApplyResourceChangeRequest{TypeName: "x_server"})
	if err != nil || len(ar.Diagnostics) != 1 || !strings.Contains(ar.Diagnostics[0].Summary, "cannot apply") ||
		ar.Diagnostics[0].Severity != tfprotov5.DiagnosticSeverityError {
		t.Fatalf("apply: %v %+v", err, ar.Diagnostics)
	}
	vr, err := srv.ValidateResourceTypeConfig(context.Background(), &tfprotov5.ValidateResourceTypeConfigRequest{TypeName: "x_nope"})
	if err != nil || len(vr.Diagnostics) != 1 {
		t.Fatalf("validate unknown type: %v %+v", err, vr.Diagnostics)
	}
	sr, err := srv.GetProviderSchema(context.Background(), &tfprotov5.GetProviderSchemaRequest{})
	if err != nil || sr.ResourceSchemas["x_server"] == nil || sr.Provider == nil {
		t.Fatalf("schema: %v %+v", err, sr)
	}
}

func TestPlanKnownIDs(t *testing.T) {
	srv, typ := server(t)
	srv.WithKnownIDs()
	plan := func(name string) string {
		t.Helper()
		v := tftypes.NewValue(typ, map[string]tftypes.Value{
			"id": tftypes.NewValue(tftypes.String, nil), "name": tftypes.NewValue(tftypes.String, name),
			"tags": tftypes.NewValue(typ.AttributeTypes["tags"], nil), "labels": tftypes.NewValue(typ.AttributeTypes["labels"], nil),
			"ips": tftypes.NewValue(typ.AttributeTypes["ips"], nil), "volume": tftypes.NewValue(typ.AttributeTypes["volume"], nil),
		})
		resp, err := srv.PlanResourceChange(context.Background(), &tfprotov5.PlanResourceChangeRequest{
			TypeName: "x_server", PriorState: dv(t, typ, tftypes.NewValue(typ, nil)), ProposedNewState: dv(t, typ, v), Config: dv(t, typ, v),
		})
		if err != nil || len(resp.Diagnostics) > 0 {
			t.Fatalf("plan: %v %v", err, resp.Diagnostics)
		}
		planned, err := resp.PlannedState.Unmarshal(typ)
		if err != nil {
			t.Fatal(err)
		}
		var attrs map[string]tftypes.Value
		if err := planned.As(&attrs); err != nil {
			t.Fatal(err)
		}
		if attrs["labels"].IsKnown() {
			t.Error("labels (computed, not the id) must stay unknown")
		}
		var id string
		if err := attrs["id"].As(&id); err != nil || !strings.HasPrefix(id, "standin-") {
			t.Fatalf("id = %q, %v; want a known standin-... ID", id, err)
		}
		return id
	}
	a, b, a2 := plan("web-1"), plan("web-2"), plan("web-1")
	if a == b || a != a2 {
		t.Fatalf("IDs %s %s %s: want equal for equal configuration, different otherwise", a, b, a2)
	}
}
