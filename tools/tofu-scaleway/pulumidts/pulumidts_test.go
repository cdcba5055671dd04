package pulumidts

import (
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/ensemble-jitsi/ensemble/tools/tofu-scaleway/tfschema"
)

var update = flag.Bool("update", false, "rewrite testdata/pkg.schema.json")

// TestSchemaFromPackage reads a small package in the shape the bridge generates and checks the
// Terraform schema it rebuilds, against a golden file and on the points that matter.
func TestSchemaFromPackage(t *testing.T) {
	pkg, err := ReadPackage("testdata/pkg")
	if err != nil {
		t.Fatal(err)
	}
	if pkg.Name != "@example/scaleway" || pkg.Version != "9.9.9" {
		t.Fatalf("package %s@%s", pkg.Name, pkg.Version)
	}
	s, err := pkg.Schema("2.0.0")
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(s, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.WriteFile("testdata/pkg.schema.json", got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("testdata/pkg.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("schema differs from testdata/pkg.schema.json (go test -update, then review):\n%s", got)
	}

	if len(s.ResourceSchemas) != 2 {
		t.Fatalf("want 2 resources (the deprecated alias class dropped), got %v", tfschema.SortedKeys(s.ResourceSchemas))
	}
	srv := s.ResourceSchemas["scaleway_instance_server"]
	if srv == nil {
		t.Fatalf("no scaleway_instance_server in %v", tfschema.SortedKeys(s.ResourceSchemas))
	}
	b := srv.Block
	checks := []struct {
		name string
		ok   bool
	}{
		{"type is required", b.Attributes["type"].Required},
		{"image is optional, not computed", b.Attributes["image"].Optional && !b.Attributes["image"].Computed},
		{"name is optional and computed", b.Attributes["name"].Optional && b.Attributes["name"].Computed},
		{"user_data is a sensitive map of strings", b.Attributes["user_data"].Sensitive && b.Attributes["user_data"].Type.Kind == "map"},
		{"user_data is deprecated", b.Attributes["user_data"].Deprecated},
		{"id is added", b.Attributes["id"] != nil && b.Attributes["id"].Computed},
		{"tags is a list of strings", b.Attributes["tags"].Type.Kind == "list" && b.Attributes["tags"].Type.Elem.Kind == "string"},
		{"root_volume is a block of at most one", b.BlockTypes["root_volume"] != nil && b.BlockTypes["root_volume"].MaxItems == 1},
		{"private_networks is the block private_network", b.BlockTypes["private_network"] != nil && b.BlockTypes["private_network"].MaxItems == 0},
		{"private_network.pn_id is required", b.BlockTypes["private_network"].Block.Attributes["pn_id"].Required},
		{"private_network.status is optional+computed", b.BlockTypes["private_network"].Block.Attributes["status"].Computed},
		{"public_ips (computed only) is an attribute list(object)", b.Attributes["public_ips"] != nil && b.Attributes["public_ips"].Type.Kind == "list" && b.Attributes["public_ips"].Type.Elem.Attr["family"].Kind == "string"},
		{"description is the first paragraph", b.BlockTypes["private_network"].Block.Description == "The private network associated with the server."},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("scaleway_instance_server: %s", c.name)
		}
	}
	lb := s.ResourceSchemas["scaleway_lb_backend"]
	if lb == nil || lb.Block.BlockTypes["health_check_tcp"] == nil {
		t.Fatalf("scaleway_lb_backend with an empty health_check_tcp block: %+v", lb)
	}
	if !s.Provider.Block.Attributes["access_key"].Sensitive || s.Provider.Block.Attributes["zone"].Required {
		t.Errorf("provider: access_key must be sensitive and zone optional")
	}
	if _, err := tfschema.Parse(got); err != nil {
		t.Errorf("the generated schema does not parse back: %v", err)
	}
}

func TestTerraformName(t *testing.T) {
	for _, c := range []struct {
		token   string
		aliases []string
		want    string
	}{
		{"scaleway:instance/server:Server", []string{"scaleway:index/instanceServer:InstanceServer"}, "scaleway_instance_server"},
		{"scaleway:loadbalancers/loadBalancer:LoadBalancer", []string{"scaleway:index/loadbalancer:Loadbalancer"}, "scaleway_lb"},
		{"scaleway:loadbalancers/backend:Backend", []string{"scaleway:index/loadbalancerBackend:LoadbalancerBackend"}, "scaleway_lb_backend"},
		{"scaleway:loadbalancers/privateNetwork:PrivateNetwork", nil, "scaleway_lb_private_network"},
		{"scaleway:network/privateNetwork:PrivateNetwork", []string{"scaleway:index/vpcPrivateNetwork:VpcPrivateNetwork"}, "scaleway_vpc_private_network"},
		{"scaleway:network/acl:Acl", nil, "scaleway_vpc_acl"},
		{"scaleway:domain/record:Record", []string{"scaleway:index/domainRecord:DomainRecord"}, "scaleway_domain_record"},
		{"scaleway:secrets/secret:Secret", []string{"scaleway:index/secret:Secret"}, "scaleway_secret"},
		{"scaleway:databases/instance:Instance", []string{"scaleway:index/databaseInstance:DatabaseInstance"}, "scaleway_rdb_instance"},
		{"scaleway:kubernetes/pool:Pool", []string{"scaleway:index/kubernetesNodePool:KubernetesNodePool"}, "scaleway_k8s_pool"},
	} {
		if got := TerraformName(&Resource{Token: c.token, Aliases: c.aliases}); got != c.want {
			t.Errorf("TerraformName(%s) = %s, want %s", c.token, got, c.want)
		}
	}
}

func TestSnakeAndSingular(t *testing.T) {
	for in, want := range map[string]string{"sizeInGb": "size_in_gb", "ipv4Subnet": "ipv4_subnet", "name": "name", "pnId": "pn_id"} {
		if got := Snake(in); got != want {
			t.Errorf("Snake(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"inboundRules": "inboundRule", "policies": "policy", "addresses": "address", "access": "access", "matches": "match", "privateNetworks": "privateNetwork"} {
		if got := Singular(in); got != want {
			t.Errorf("Singular(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for name, src := range map[string]string{
		"unterminated comment":   "/** x",
		"unterminated interface": "export interface A { a: string;",
		"bad union":              "export interface A { a: string | number; }",
		"map with number keys":   "export interface A { a: { [k: number]: string }; }",
		"missing colon":          "export interface A { a string; }",
		"end in a type":          "export interface A { a: pulumi.Input<",
	} {
		if _, err := ParseFile(src); err == nil {
			t.Errorf("%s: want an error for %q", name, src)
		}
	}
}

// FuzzParseFile: any input either parses or returns an error; it never panics or hangs.
func FuzzParseFile(f *testing.F) {
	for _, p := range []string{"testdata/pkg/instance/server.d.ts", "testdata/pkg/types/input.d.ts", "testdata/pkg/provider.d.ts"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("export declare namespace a { interface B { c?: { [k: string]: string[] }; } }")
	f.Fuzz(func(t *testing.T, src string) {
		file, err := ParseFile(src)
		if err == nil && file == nil {
			t.Fatal("nil file without error")
		}
		if err != nil && !strings.HasPrefix(err.Error(), "line ") && !strings.Contains(err.Error(), ": ") {
			t.Fatalf("error without position: %v", err)
		}
	})
}
