package scaleway

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// plan is the part of `tofu show -json PLAN` the checks read.
type plan struct {
	Variables map[string]struct {
		Value any `json:"value"`
	} `json:"variables"`
	PlannedValues struct {
		Outputs map[string]struct {
			Sensitive bool `json:"sensitive"`
			Value     any  `json:"value"`
		} `json:"outputs"`
		RootModule struct {
			Resources []struct {
				Address string         `json:"address"`
				Type    string         `json:"type"`
				Values  map[string]any `json:"values"`
			} `json:"resources"`
		} `json:"root_module"`
	} `json:"planned_values"`
	Configuration struct {
		RootModule struct {
			Variables map[string]struct {
				Sensitive bool `json:"sensitive"`
			} `json:"variables"`
			Resources []struct {
				Address     string          `json:"address"`
				Type        string          `json:"type"`
				DependsOn   []string        `json:"depends_on"`
				Expressions json.RawMessage `json:"expressions"`
			} `json:"resources"`
		} `json:"root_module"`
	} `json:"configuration"`
}

// yamlencode quotes every key: "turn":\n    "secret": "<64 hex>".
var reTurnSecret = regexp.MustCompile(`"?turn"?:\s+"?secret"?:\s+"?([0-9a-f]{64})`)

// secrets lists every secret value a plan holds: the sensitive inputs, the derived tokens
// (consul_acl's secret IDs, host_tokens, the management token, the selectors' key) and the
// coturn secrets in the nodes' user-data.
func (p *plan) secrets() []string {
	var out []string
	for name, v := range p.Configuration.RootModule.Variables {
		if s, ok := p.Variables[name].Value.(string); ok && v.Sensitive && s != "" {
			out = append(out, s)
		}
	}
	outputs := p.PlannedValues.Outputs
	if acl, ok := outputs["consul_acl"].Value.(map[string]any); ok {
		tokens, _ := acl["tokens"].([]any)
		for _, tok := range tokens {
			out = append(out, fmt.Sprint(tok.(map[string]any)["secret_id"]))
		}
	}
	if hosts, ok := outputs["host_tokens"].Value.(map[string]any); ok {
		for _, h := range hosts {
			for _, v := range h.(map[string]any) {
				out = append(out, fmt.Sprint(v))
			}
		}
	}
	if s, ok := outputs["consul_management_token"].Value.(string); ok {
		out = append(out, s)
	}
	if tls, ok := outputs["selector_tls"].Value.(map[string]any); ok {
		out = append(out, fmt.Sprint(tls["private_key"]))
	}
	for _, r := range p.PlannedValues.RootModule.Resources {
		if ud, ok := r.Values["user_data"].(map[string]any); ok {
			for _, m := range reTurnSecret.FindAllStringSubmatch(fmt.Sprint(ud["cloud-init"]), -1) {
				out = append(out, m[1])
			}
		}
	}
	sort.Strings(out)
	return out
}

// checkOutputs fails when a non-sensitive output holds a secret, or when the plan holds fewer
// secrets than a fleet must (so the check cannot pass by finding none).
func checkOutputs(p *plan, nodes int) error {
	secrets := p.secrets()
	// 4 sensitive inputs, per node 2 tokens + coturn, 3 control agents, 2 selectors x 2 tokens
	// (each also in host_tokens), the management token, the selectors' key.
	if want := 4 + 3*nodes + 3 + 4 + 3 + 4 + 1 + 1; len(secrets) < want {
		return fmt.Errorf("the plan holds %d secrets, want at least %d: %q", len(secrets), want, secrets)
	}
	for name, o := range p.PlannedValues.Outputs {
		if o.Sensitive {
			continue
		}
		b, err := json.Marshal(o.Value)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				return fmt.Errorf("output %s is not sensitive but holds the secret %.12s...", name, s)
			}
		}
	}
	return nil
}

// references lists every address a resource's expressions name.
func references(raw json.RawMessage) []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if k == "references" {
					for _, r := range x.([]any) {
						out = append(out, r.(string))
					}
					continue
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	var v any
	if json.Unmarshal(raw, &v) == nil {
		walk(v)
	}
	return out
}

// checkOrder fails unless everything attached to the private network either holds a reserved
// address or is created after every reservation (so DHCP cannot take a fixed address first),
// and unless each Jitsi node is created after its DNS record.
func checkOrder(p *plan) error {
	var reservations []string
	for _, r := range p.Configuration.RootModule.Resources {
		if r.Type == "scaleway_ipam_ip" {
			reservations = append(reservations, r.Address)
		}
	}
	if len(reservations) < 3 {
		return fmt.Errorf("want reservations for the Consul servers, the selectors and the load balancer, got %q", reservations)
	}
	attached := 0
	for _, r := range p.Configuration.RootModule.Resources {
		refs := references(r.Expressions)
		if r.Type == "scaleway_ipam_ip" || !hasPrefix(refs, "scaleway_vpc_private_network.") {
			continue
		}
		attached++
		if hasPrefix(refs, "scaleway_ipam_ip.") {
			continue // holds a reservation
		}
		for _, res := range reservations {
			if !contains(r.DependsOn, res) {
				return fmt.Errorf("%s takes a private address by DHCP but is not created after %s (depends_on)", r.Address, res)
			}
		}
		if r.Address == "scaleway_instance_server.jitsi" && !contains(r.DependsOn, "scaleway_domain_record.node") {
			return fmt.Errorf("%s is not created after its DNS record (depends_on scaleway_domain_record.node)", r.Address)
		}
	}
	if attached < 4 {
		return fmt.Errorf("only %d resources attach to the private network, want the nodes, the two NIC kinds and the load balancer", attached)
	}
	return nil
}

func hasPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// checkEncrypted fails when a plan or state file can be read without the passphrase: a plan
// that opens as a zip, a state that parses as state, or either holding a secret in plain text.
func checkEncrypted(path string, secrets []string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if z, err := zip.NewReader(bytes.NewReader(b), int64(len(b))); err == nil {
		for _, f := range z.File {
			rc, err := f.Open()
			if err != nil {
				return err
			}
			var buf bytes.Buffer
			_, err = buf.ReadFrom(rc)
			rc.Close()
			if err != nil {
				return err
			}
			if s := firstSecret(buf.Bytes(), secrets); s != "" {
				return fmt.Errorf("%s is a plain plan, not encrypted: its %s holds the secret %.12s...", path, f.Name, s)
			}
		}
		return fmt.Errorf("%s is a plain plan (a zip of %d files), not encrypted", path, len(z.File))
	}
	if s := firstSecret(b, secrets); s != "" {
		return fmt.Errorf("%s is not encrypted: it holds the secret %.12s... in plain text", path, s)
	}
	var state struct {
		Resources []any `json:"resources"`
		Outputs   any   `json:"outputs"`
	}
	if json.Unmarshal(b, &state) == nil && (state.Resources != nil || state.Outputs != nil) {
		return fmt.Errorf("%s is a plain state, not encrypted", path)
	}
	return nil
}

func firstSecret(b []byte, secrets []string) string {
	for _, s := range secrets {
		if bytes.Contains(b, []byte(s)) {
			return s
		}
	}
	return ""
}

// derivedUUID is docs/infra.md's formula for a token: the first 122 bits of
// sha256("ensemble\n<seed>\n<host>\n<purpose>\n<generation>") in the UUID version 4 layout.
func derivedUUID(seed, host, purpose string, generation int) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("ensemble\n%s\n%s\n%s\n%d", seed, host, purpose, generation)))
	x := hex.EncodeToString(sum[:])
	return fmt.Sprintf("%s-%s-4%s-8%s-%s", x[0:8], x[8:12], x[13:16], x[17:20], x[20:32])
}

var reCertificate = regexp.MustCompile(`(?m)^resource "scaleway_lb_certificate" "([^"]+)" \{`)

// checkCertificatesReplacedFirst fails unless every scaleway_lb_certificate in the module's
// .tf files has lifecycle { create_before_destroy = true }: the provider replaces a certificate
// on any change of its content, and deleting first fails while a frontend uses it (400). The
// plan's JSON does not carry lifecycle settings, so this reads the configuration itself.
func checkCertificatesReplacedFirst(dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		return err
	}
	found := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		src := string(b)
		for _, m := range reCertificate.FindAllStringSubmatchIndex(src, -1) {
			found++
			depth, end := 0, len(src)
			for i := m[1] - 1; i < len(src); i++ {
				if src[i] == '{' {
					depth++
				} else if src[i] == '}' {
					if depth--; depth == 0 {
						end = i
						break
					}
				}
			}
			body := src[m[1]:end]
			if !regexp.MustCompile(`(?s)lifecycle\s*\{[^}]*create_before_destroy\s*=\s*true`).MatchString(body) {
				return fmt.Errorf("scaleway_lb_certificate.%s (%s) is not replaced create_before_destroy", src[m[2]:m[3]], filepath.Base(f))
			}
		}
	}
	if found == 0 {
		return fmt.Errorf("no scaleway_lb_certificate in %s", dir)
	}
	return nil
}

// variableDefault returns the default of variable name in HCL source (a string default only).
func variableDefault(src, name string) string {
	m := regexp.MustCompile(`(?s)variable "` + regexp.QuoteMeta(name) + `" \{.*?\n\s*default\s*=\s*"([^"]*)"`).FindStringSubmatch(src)
	if m == nil {
		return ""
	}
	return m[1]
}

// checkBuilderType fails unless the module's image_builder_commercial_type default is the Packer
// builder's commercial_type default (packer/variables.pkr.hcl), so the volume-family check of
// the module judges the type the images are really baked on.
func checkBuilderType(dir string) error {
	mod, err := os.ReadFile(filepath.Join(dir, "variables.tf"))
	if err != nil {
		return err
	}
	pk, err := os.ReadFile("../../packer/variables.pkr.hcl")
	if err != nil {
		return err
	}
	got, want := variableDefault(string(mod), "image_builder_commercial_type"), variableDefault(string(pk), "commercial_type")
	if got == "" || got != want {
		return fmt.Errorf("image_builder_commercial_type defaults to %q, but Packer builds on %q (packer/variables.pkr.hcl)", got, want)
	}
	return nil
}

// checkPairing fails unless, in a plan with known IDs (savedPlan), each instance refers to its
// own counterpart: Consul server and selector NIC i sit on server i and hold reservation i, in
// the fleet's network; every node is on that network and node N in placement group
// ceil(N/20), at most 20 per group; the load balancer holds its reservation; the network is in
// the module's VPC; the backends are the first selector_count reserved selector addresses.
func checkPairing(p *plan) error {
	res := map[string]map[string]any{}
	for _, r := range p.PlannedValues.RootModule.Resources {
		res[r.Address] = r.Values
	}
	id := func(addr string) (string, error) {
		v, ok := res[addr]
		if !ok {
			return "", fmt.Errorf("the plan has no %s", addr)
		}
		s, _ := v["id"].(string)
		if !strings.HasPrefix(s, "standin-") {
			return "", fmt.Errorf("%s has no known ID (plan with SCALEWAY_STANDIN_KNOWN_IDS=1)", addr)
		}
		return s, nil
	}
	network, err := id("scaleway_vpc_private_network.fleet")
	if err != nil {
		return err
	}
	vpc, err := id("scaleway_vpc.fleet")
	if err != nil {
		return err
	}
	if res["scaleway_vpc_private_network.fleet"]["vpc_id"] != vpc {
		return fmt.Errorf("the private network is not in the module's VPC (vpc_id %v)", res["scaleway_vpc_private_network.fleet"]["vpc_id"])
	}
	for _, kind := range []string{"control", "selector"} {
		for i := 0; ; i++ {
			nic, ok := res[fmt.Sprintf("scaleway_instance_private_nic.%s[%d]", kind, i)]
			if !ok {
				if i < 2 {
					return fmt.Errorf("only %d %s NICs", i, kind)
				}
				break
			}
			server, err := id(fmt.Sprintf("scaleway_instance_server.%s[%d]", kind, i))
			if err != nil {
				return err
			}
			reservation, err := id(fmt.Sprintf("scaleway_ipam_ip.%s[%d]", kind, i))
			if err != nil {
				return err
			}
			ipam, _ := nic["ipam_ip_ids"].([]any)
			if nic["server_id"] != server || len(ipam) != 1 || ipam[0] != reservation || nic["private_network_id"] != network {
				return fmt.Errorf("%s NIC %d is not on %s server %d holding its own reservation in the fleet's network: %v", kind, i, kind, i, nic)
			}
		}
	}
	lb, _ := res["scaleway_lb.selectors"]["private_network"].([]any)
	lbReservation, err := id("scaleway_ipam_ip.lb")
	if err != nil {
		return err
	}
	if len(lb) != 1 || fmt.Sprint(lb[0].(map[string]any)["ipam_ids"]) != fmt.Sprint([]any{lbReservation}) {
		return fmt.Errorf("the load balancer does not hold its reserved private address: %v", lb)
	}
	var backends []any
	for i := 0; ; i++ {
		r, ok := res[fmt.Sprintf("scaleway_ipam_ip.selector[%d]", i)]
		if !ok || res[fmt.Sprintf("scaleway_instance_private_nic.selector[%d]", i)] == nil {
			break
		}
		backends = append(backends, r["address"])
	}
	if got := res["scaleway_lb_backend.selectors"]["server_ips"]; fmt.Sprint(got) != fmt.Sprint(backends) {
		return fmt.Errorf("backends %v, want the selectors' reserved addresses %v", got, backends)
	}
	perGroup := map[string]int{}
	nodes := 0
	for n := 1; ; n++ {
		addr := fmt.Sprintf(`scaleway_instance_server.jitsi["meet-%04d"]`, n)
		node, ok := res[addr]
		if !ok {
			break
		}
		nodes++
		pn, _ := node["private_network"].([]any)
		if len(pn) != 1 || pn[0].(map[string]any)["pn_id"] != network {
			return fmt.Errorf("%s is not on the fleet's private network: %v", addr, pn)
		}
		group, err := id(fmt.Sprintf("scaleway_instance_placement_group.jitsi[%d]", (n-1)/20))
		if err != nil {
			return err
		}
		if node["placement_group_id"] != group {
			return fmt.Errorf("%s is not in placement group %d (node N in group ceil(N/20))", addr, (n-1)/20+1)
		}
		if perGroup[group]++; perGroup[group] > 20 {
			return fmt.Errorf("placement group %s holds more than 20 nodes", group)
		}
	}
	if nodes == 0 {
		return fmt.Errorf("the plan has no Jitsi node")
	}
	return nil
}
