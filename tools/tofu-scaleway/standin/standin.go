// Package standin is a schema-only Terraform provider: it serves a provider schema document
// over the plugin protocol (version 5) so that `tofu validate`, `tofu plan` and `tofu test`
// with mock_provider can check configuration offline, and it refuses to apply anything.
//
// A plan marks every computed attribute the configuration leaves null as unknown ("known
// after apply") on create, and otherwise keeps the proposed state. It never talks to an API,
// so it cannot know what the real provider would compute, reject or replace.
//
// For tests only, WithKnownIDs makes a planned create's id known: a digest of the resource type
// and its configured values, so two instances configured differently get different IDs and a
// plan's JSON shows which instance references which (a real provider knows IDs only after apply).
package standin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/hashicorp/terraform-plugin-go/tfprotov5"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/ensemble-jitsi/ensemble/tools/tofu-scaleway/tfschema"
)

// Server answers the plugin protocol from one schema document.
type Server struct {
	schema   *tfschema.Provider
	knownIDs bool
}

// New returns a server for the schema.
func New(s *tfschema.Provider) *Server { return &Server{schema: s} }

// WithKnownIDs returns the server planning known IDs on create (see the package comment).
func (s *Server) WithKnownIDs() *Server { s.knownIDs = true; return s }

var _ tfprotov5.ProviderServer = (*Server)(nil)

func errDiag(summary, detail string) []*tfprotov5.Diagnostic {
	return []*tfprotov5.Diagnostic{{Severity: tfprotov5.DiagnosticSeverityError, Summary: summary, Detail: detail}}
}

func (s *Server) refuse(what string) []*tfprotov5.Diagnostic {
	return errDiag("schema-only stand-in provider: cannot "+what,
		fmt.Sprintf("This scaleway provider %s only knows the schema (%s). It validates and plans; "+
			"it cannot %s. Run `tofu init` with network access to install the real scaleway/scaleway provider.",
			s.schema.Version, s.schema.Source, what))
}

func (s *Server) resource(name string) (*tfschema.Schema, []*tfprotov5.Diagnostic) {
	rs, ok := s.schema.ResourceSchemas[name]
	if !ok {
		return nil, errDiag("unknown resource type", fmt.Sprintf("the stand-in schema has no resource type %q", name))
	}
	return rs, nil
}

// GetMetadata lists the resource types.
func (s *Server) GetMetadata(context.Context, *tfprotov5.GetMetadataRequest) (*tfprotov5.GetMetadataResponse, error) {
	resp := &tfprotov5.GetMetadataResponse{ServerCapabilities: &tfprotov5.ServerCapabilities{PlanDestroy: true}}
	for _, name := range tfschema.SortedKeys(s.schema.ResourceSchemas) {
		resp.Resources = append(resp.Resources, tfprotov5.ResourceMetadata{TypeName: name})
	}
	return resp, nil
}

// GetProviderSchema returns the whole schema.
func (s *Server) GetProviderSchema(context.Context, *tfprotov5.GetProviderSchemaRequest) (*tfprotov5.GetProviderSchemaResponse, error) {
	resp := &tfprotov5.GetProviderSchemaResponse{
		ServerCapabilities: &tfprotov5.ServerCapabilities{PlanDestroy: true},
		Provider:           s.schema.Provider.Proto(),
		ResourceSchemas:    map[string]*tfprotov5.Schema{},
		DataSourceSchemas:  map[string]*tfprotov5.Schema{},
	}
	for name, rs := range s.schema.ResourceSchemas {
		resp.ResourceSchemas[name] = rs.Proto()
	}
	return resp, nil
}

// GetResourceIdentitySchemas: the stand-in has no resource identities.
func (s *Server) GetResourceIdentitySchemas(context.Context, *tfprotov5.GetResourceIdentitySchemasRequest) (*tfprotov5.GetResourceIdentitySchemasResponse, error) {
	return &tfprotov5.GetResourceIdentitySchemasResponse{}, nil
}

// PrepareProviderConfig accepts the configuration as it is.
func (s *Server) PrepareProviderConfig(_ context.Context, req *tfprotov5.PrepareProviderConfigRequest) (*tfprotov5.PrepareProviderConfigResponse, error) {
	return &tfprotov5.PrepareProviderConfigResponse{PreparedConfig: req.Config}, nil
}

// ConfigureProvider accepts any configuration: there are no credentials to check.
func (s *Server) ConfigureProvider(context.Context, *tfprotov5.ConfigureProviderRequest) (*tfprotov5.ConfigureProviderResponse, error) {
	return &tfprotov5.ConfigureProviderResponse{}, nil
}

// StopProvider has nothing to stop.
func (s *Server) StopProvider(context.Context, *tfprotov5.StopProviderRequest) (*tfprotov5.StopProviderResponse, error) {
	return &tfprotov5.StopProviderResponse{}, nil
}

// ValidateResourceTypeConfig checks only that the type exists; OpenTofu itself has already
// checked the configuration against the schema (names, types, required arguments).
func (s *Server) ValidateResourceTypeConfig(_ context.Context, req *tfprotov5.ValidateResourceTypeConfigRequest) (*tfprotov5.ValidateResourceTypeConfigResponse, error) {
	_, diags := s.resource(req.TypeName)
	return &tfprotov5.ValidateResourceTypeConfigResponse{Diagnostics: diags}, nil
}

// UpgradeResourceState decodes stored state with the current schema (version 0 only).
func (s *Server) UpgradeResourceState(_ context.Context, req *tfprotov5.UpgradeResourceStateRequest) (*tfprotov5.UpgradeResourceStateResponse, error) {
	rs, diags := s.resource(req.TypeName)
	if diags != nil {
		return &tfprotov5.UpgradeResourceStateResponse{Diagnostics: diags}, nil
	}
	typ := rs.Block.ValueType()
	val, err := req.RawState.UnmarshalWithOpts(typ, tfprotov5.UnmarshalOpts{ValueFromJSONOpts: tftypes.ValueFromJSONOpts{IgnoreUndefinedAttributes: true}})
	if err != nil {
		return &tfprotov5.UpgradeResourceStateResponse{Diagnostics: errDiag("cannot decode state", err.Error())}, nil
	}
	dv, err := tfprotov5.NewDynamicValue(typ, val)
	if err != nil {
		return nil, err
	}
	return &tfprotov5.UpgradeResourceStateResponse{UpgradedState: &dv}, nil
}

// ReadResource returns the stored state unchanged: there is no API to refresh from.
func (s *Server) ReadResource(_ context.Context, req *tfprotov5.ReadResourceRequest) (*tfprotov5.ReadResourceResponse, error) {
	return &tfprotov5.ReadResourceResponse{NewState: req.CurrentState, Private: req.Private}, nil
}

// PlanResourceChange plans a create with every unset computed attribute unknown, and keeps the
// proposed state for updates and destroys.
func (s *Server) PlanResourceChange(_ context.Context, req *tfprotov5.PlanResourceChangeRequest) (*tfprotov5.PlanResourceChangeResponse, error) {
	rs, diags := s.resource(req.TypeName)
	if diags != nil {
		return &tfprotov5.PlanResourceChangeResponse{Diagnostics: diags}, nil
	}
	typ := rs.Block.ValueType()
	prior, err := req.PriorState.Unmarshal(typ)
	if err != nil {
		return nil, fmt.Errorf("standin: prior state: %w", err)
	}
	proposed, err := req.ProposedNewState.Unmarshal(typ)
	if err != nil {
		return nil, fmt.Errorf("standin: proposed state: %w", err)
	}
	if proposed.IsNull() || !prior.IsNull() {
		return &tfprotov5.PlanResourceChangeResponse{PlannedState: req.ProposedNewState, PlannedPrivate: req.PriorPrivate}, nil
	}
	planned, err := UnknownComputed(rs.Block, proposed)
	if err != nil {
		return nil, err
	}
	if s.knownIDs {
		if planned, err = knownID(req.TypeName, rs.Block, proposed, planned); err != nil {
			return nil, err
		}
	}
	dv, err := tfprotov5.NewDynamicValue(typ, planned)
	if err != nil {
		return nil, fmt.Errorf("standin: planned state: %w", err)
	}
	return &tfprotov5.PlanResourceChangeResponse{PlannedState: &dv}, nil
}

// knownID sets planned's top-level computed id, when the configuration leaves it null, to
// "standin-" and 16 hex digits of sha256(type name, proposed value).
func knownID(typeName string, b *tfschema.Block, proposed, planned tftypes.Value) (tftypes.Value, error) {
	if a, ok := b.Attributes["id"]; !ok || !a.Computed {
		return planned, nil
	}
	raw, err := tfprotov5.NewDynamicValue(proposed.Type(), proposed)
	if err != nil {
		return planned, fmt.Errorf("standin: encode %s: %w", typeName, err)
	}
	sum := sha256.Sum256(append([]byte(typeName+"\x00"), raw.MsgPack...))
	id := tftypes.NewValue(tftypes.String, "standin-"+hex.EncodeToString(sum[:8]))
	return tftypes.Transform(planned, func(p *tftypes.AttributePath, v tftypes.Value) (tftypes.Value, error) {
		if steps := p.Steps(); len(steps) == 1 && steps[0] == tftypes.AttributeName("id") && !v.IsKnown() {
			return id, nil
		}
		return v, nil
	})
}

// UnknownComputed replaces every null computed attribute of v (a value of block b) by an
// unknown value of its type.
func UnknownComputed(b *tfschema.Block, v tftypes.Value) (tftypes.Value, error) {
	return tftypes.Transform(v, func(p *tftypes.AttributePath, v tftypes.Value) (tftypes.Value, error) {
		if !v.IsNull() {
			return v, nil
		}
		if a := attributeAt(b, p); a != nil && a.Computed {
			return tftypes.NewValue(v.Type(), tftypes.UnknownValue), nil
		}
		return v, nil
	})
}

// attributeAt returns the schema attribute a path names, or nil when the path names a block,
// an element or something inside an attribute's value.
func attributeAt(b *tfschema.Block, p *tftypes.AttributePath) *tfschema.Attribute {
	steps := p.Steps()
	for i := 0; i < len(steps); i++ {
		name, ok := steps[i].(tftypes.AttributeName)
		if !ok {
			return nil
		}
		if a, ok := b.Attributes[string(name)]; ok {
			if i == len(steps)-1 {
				return a
			}
			return nil
		}
		nb, ok := b.BlockTypes[string(name)]
		if !ok {
			return nil
		}
		b = nb.Block
		if nb.NestingMode != "single" {
			i++ // the element key of a list or set block
		}
	}
	return nil
}

// ApplyResourceChange refuses: a schema cannot create servers.
func (s *Server) ApplyResourceChange(context.Context, *tfprotov5.ApplyResourceChangeRequest) (*tfprotov5.ApplyResourceChangeResponse, error) {
	return &tfprotov5.ApplyResourceChangeResponse{Diagnostics: s.refuse("apply")}, nil
}

// ImportResourceState refuses.
func (s *Server) ImportResourceState(context.Context, *tfprotov5.ImportResourceStateRequest) (*tfprotov5.ImportResourceStateResponse, error) {
	return &tfprotov5.ImportResourceStateResponse{Diagnostics: s.refuse("import")}, nil
}

// MoveResourceState refuses.
func (s *Server) MoveResourceState(context.Context, *tfprotov5.MoveResourceStateRequest) (*tfprotov5.MoveResourceStateResponse, error) {
	return &tfprotov5.MoveResourceStateResponse{Diagnostics: s.refuse("move state between resource types")}, nil
}

// UpgradeResourceIdentity refuses: there are no identities.
func (s *Server) UpgradeResourceIdentity(context.Context, *tfprotov5.UpgradeResourceIdentityRequest) (*tfprotov5.UpgradeResourceIdentityResponse, error) {
	return &tfprotov5.UpgradeResourceIdentityResponse{Diagnostics: s.refuse("upgrade resource identities")}, nil
}

// GenerateResourceConfig refuses.
func (s *Server) GenerateResourceConfig(context.Context, *tfprotov5.GenerateResourceConfigRequest) (*tfprotov5.GenerateResourceConfigResponse, error) {
	return &tfprotov5.GenerateResourceConfigResponse{Diagnostics: s.refuse("generate configuration")}, nil
}

// ValidateDataSourceConfig: the stand-in has no data sources.
func (s *Server) ValidateDataSourceConfig(_ context.Context, req *tfprotov5.ValidateDataSourceConfigRequest) (*tfprotov5.ValidateDataSourceConfigResponse, error) {
	return &tfprotov5.ValidateDataSourceConfigResponse{Diagnostics: errDiag("unknown data source", "the stand-in schema has no data source "+req.TypeName)}, nil
}

// ReadDataSource: the stand-in has no data sources.
func (s *Server) ReadDataSource(_ context.Context, req *tfprotov5.ReadDataSourceRequest) (*tfprotov5.ReadDataSourceResponse, error) {
	return &tfprotov5.ReadDataSourceResponse{Diagnostics: errDiag("unknown data source", "the stand-in schema has no data source "+req.TypeName)}, nil
}

// GetFunctions: no provider functions.
func (s *Server) GetFunctions(context.Context, *tfprotov5.GetFunctionsRequest) (*tfprotov5.GetFunctionsResponse, error) {
	return &tfprotov5.GetFunctionsResponse{Functions: map[string]*tfprotov5.Function{}}, nil
}

// CallFunction: no provider functions.
func (s *Server) CallFunction(_ context.Context, req *tfprotov5.CallFunctionRequest) (*tfprotov5.CallFunctionResponse, error) {
	return &tfprotov5.CallFunctionResponse{Error: &tfprotov5.FunctionError{Text: "the stand-in provider has no function " + req.Name}}, nil
}

// ValidateEphemeralResourceConfig: no ephemeral resources.
func (s *Server) ValidateEphemeralResourceConfig(_ context.Context, req *tfprotov5.ValidateEphemeralResourceConfigRequest) (*tfprotov5.ValidateEphemeralResourceConfigResponse, error) {
	return &tfprotov5.ValidateEphemeralResourceConfigResponse{Diagnostics: errDiag("unknown ephemeral resource", req.TypeName)}, nil
}

// OpenEphemeralResource: no ephemeral resources.
func (s *Server) OpenEphemeralResource(context.Context, *tfprotov5.OpenEphemeralResourceRequest) (*tfprotov5.OpenEphemeralResourceResponse, error) {
	return &tfprotov5.OpenEphemeralResourceResponse{Diagnostics: s.refuse("open ephemeral resources")}, nil
}

// RenewEphemeralResource: no ephemeral resources.
func (s *Server) RenewEphemeralResource(context.Context, *tfprotov5.RenewEphemeralResourceRequest) (*tfprotov5.RenewEphemeralResourceResponse, error) {
	return &tfprotov5.RenewEphemeralResourceResponse{Diagnostics: s.refuse("renew ephemeral resources")}, nil
}

// CloseEphemeralResource: no ephemeral resources.
func (s *Server) CloseEphemeralResource(context.Context, *tfprotov5.CloseEphemeralResourceRequest) (*tfprotov5.CloseEphemeralResourceResponse, error) {
	return &tfprotov5.CloseEphemeralResourceResponse{}, nil
}
