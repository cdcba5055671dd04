package scaleway

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite firewall.json from the nftables templates")

// fwRule is one inbound rule: which role opens which port to whom.
type fwRule struct {
	Role     string `json:"role"`
	Protocol string `json:"protocol"` // tcp, udp, icmp
	Ports    string `json:"ports"`    // "443", "49152-49999", "" for icmp
	Source   string `json:"source"`   // any, ssh, private, monitoring, prometheus_clients
}

func (r fwRule) String() string {
	return fmt.Sprintf("%s %s/%s from %s", r.Role, r.Protocol, r.Ports, r.Source)
}

var (
	reJinjaVar   = regexp.MustCompile(`\{\{\s*([a-z_][a-z0-9_]*)((?:\.rsplit\(':', 1\)\[1\])?)\s*\}\}`)
	reDport      = regexp.MustCompile(`^(?:(tcp|udp) dport|meta l4proto \{\s*tcp,\s*udp\s*\} th dport)\s+(\{[^}]*\}|[0-9-]+)(.*)\baccept$`)
	reICMP       = regexp.MustCompile(`^meta l4proto \{\s*icmp,\s*ipv6-icmp\s*\}\s+accept$`)
	reDefault    = regexp.MustCompile(`^([a-z_][a-z0-9_]*):\s*"?([^"#\s]+)"?\s*(#.*)?$`)
	reRolesPath  = regexp.MustCompile(`ansible/roles/([^/]+)/`)
	reInlineRule = regexp.MustCompile(`^\s+((?:tcp|udp|meta) .*accept)\s*$`)
	reJinjaTag   = regexp.MustCompile(`\{%[^%]*%\}`)
	rePort       = regexp.MustCompile(`^[0-9]+(-[0-9]+)?$`)
)

// sourceOf classifies a rule's "ip saddr" part by the variable it draws from. An unknown
// source fails the test, so a new kind of rule gets a decision here and in firewall.tf.
func sourceOf(rest string) (string, error) {
	if !strings.Contains(rest, "saddr") {
		return "any", nil
	}
	for _, s := range []struct{ marker, source string }{
		{"ssh_sources", "ssh"},
		{"consul_sources", "private"},
		{".PrivateCIDR", "private"},
		{"monitoring_networks", "monitoring"},
		{"MonitoringSources", "monitoring"},
		{"prometheus_allowed_networks", "prometheus_clients"},
	} {
		if strings.Contains(rest, s.marker) {
			return s.source, nil
		}
	}
	return "", fmt.Errorf("unknown source in %q", rest)
}

// roleDefaults reads the scalar defaults of every role (ansible/roles/*/defaults/main.yml).
func roleDefaults(root string) (map[string]string, error) {
	vars := map[string]string{}
	files, err := filepath.Glob(filepath.Join(root, "ansible/roles/*/defaults/main.yml"))
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if m := reDefault.FindStringSubmatch(line); m != nil {
				vars[m[1]] = m[2]
			}
		}
	}
	return vars, nil
}

// nftablesRules reads every rule the Ansible roles open: the nftables templates
// (templates/*.nft.j2, base's nftables.conf.j2), the first-boot templates (files/firstboot/*.nft.tmpl)
// and rules written inline by a role's tasks/firewall.yml. Jinja conditions are ignored: the
// list is everything a role may open.
func nftablesRules(root string) ([]fwRule, error) {
	vars, err := roleDefaults(root)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, pattern := range []string{
		"ansible/roles/*/templates/*.nft.j2",
		"ansible/roles/*/templates/nftables.conf.j2",
		"ansible/roles/*/files/firstboot/*.nft.tmpl",
		"ansible/roles/*/tasks/firewall.yml",
	} {
		m, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil {
			return nil, err
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no nftables templates under %s/ansible/roles", root)
	}
	var rules []fwRule
	for _, f := range files {
		role := reRolesPath.FindStringSubmatch(filepath.ToSlash(f))[1]
		fh, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(fh)
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			if strings.HasSuffix(f, ".yml") {
				m := reInlineRule.FindStringSubmatch(line)
				if m == nil {
					continue
				}
				line = m[1]
			}
			line = strings.TrimSpace(line)
			if strings.HasPrefix(line, "#") || !strings.Contains(line, "accept") {
				continue
			}
			if reICMP.MatchString(line) {
				rules = append(rules, fwRule{Role: role, Protocol: "icmp", Source: "any"})
				continue
			}
			if !strings.Contains(line, "dport") {
				continue
			}
			expanded := reJinjaVar.ReplaceAllStringFunc(line, func(s string) string {
				m := reJinjaVar.FindStringSubmatch(s)
				v, ok := vars[m[1]]
				if !ok {
					// Not a port (e.g. a source list): leave it for sourceOf.
					return s
				}
				if m[2] != "" {
					v = v[strings.LastIndex(v, ":")+1:]
				}
				return v
			})
			// Drop Jinja tags around the saddr part: "{% if … %} ip saddr {…}{% endif %}".
			expanded = reJinjaTag.ReplaceAllString(expanded, " ")
			m := reDport.FindStringSubmatch(strings.Join(strings.Fields(expanded), " "))
			if m == nil {
				return nil, fmt.Errorf("%s:%d: cannot read the port of %q", f, n, line)
			}
			source, err := sourceOf(m[3])
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %w", f, n, err)
			}
			protos := []string{m[1]}
			if m[1] == "" {
				protos = []string{"tcp", "udp"}
			}
			ports := []string{m[2]}
			if strings.HasPrefix(m[2], "{") {
				ports = strings.FieldsFunc(strings.Trim(m[2], "{}"), func(r rune) bool { return r == ',' || r == ' ' })
			}
			for _, p := range protos {
				for _, port := range ports {
					if !rePort.MatchString(port) {
						return nil, fmt.Errorf("%s:%d: port %q is not a number or range (unknown variable?)", f, n, port)
					}
					rules = append(rules, fwRule{Role: role, Protocol: p, Ports: port, Source: source})
				}
			}
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	return sortRules(rules), nil
}

func sortRules(rules []fwRule) []fwRule {
	seen := map[fwRule]bool{}
	var out []fwRule
	for _, r := range rules {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

type firewallFile struct {
	Comment string   `json:"_comment"`
	Rules   []fwRule `json:"rules"`
}

// TestFirewallMatchesNftables proves firewall.json (which the security groups are generated
// from) lists exactly the ports the Ansible nftables templates open. After a template change,
// `go test ./infra/scaleway -run Firewall -update` rewrites firewall.json; review the diff.
func TestFirewallMatchesNftables(t *testing.T) {
	want, err := nftablesRules("../..")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("firewall.json")
	if err != nil {
		t.Fatal(err)
	}
	var file firewallFile
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatalf("firewall.json: %v", err)
	}
	if *update {
		var sb strings.Builder
		c, _ := json.Marshal(file.Comment)
		fmt.Fprintf(&sb, "{\n  \"_comment\": %s,\n  \"rules\": [\n", c)
		for i, r := range want {
			line, _ := json.Marshal(r)
			sep := ","
			if i == len(want)-1 {
				sep = ""
			}
			fmt.Fprintf(&sb, "    %s%s\n", strings.ReplaceAll(strings.ReplaceAll(string(line), `":`, `": `), `","`, `", "`), sep)
		}
		sb.WriteString("  ]\n}\n")
		if err := os.WriteFile("firewall.json", []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got := sortRules(file.Rules)
	inFile := map[fwRule]bool{}
	for _, r := range got {
		inFile[r] = true
	}
	inTemplates := map[fwRule]bool{}
	for _, r := range want {
		inTemplates[r] = true
		if !inFile[r] {
			t.Errorf("the nftables templates open %s, firewall.json does not list it", r)
		}
	}
	for _, r := range got {
		if !inTemplates[r] {
			t.Errorf("firewall.json lists %s, no nftables template opens it", r)
		}
	}
	if t.Failed() {
		t.Log("after reviewing the templates: go test ./infra/scaleway -run Firewall -update")
	}
}

// TestNftablesRulesParse pins the template reader on known lines, so a reader that silently
// found nothing could not make the agreement test pass.
func TestNftablesRulesParse(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"ansible/roles/base/defaults/main.yml":              "base_ssh_port: 22\n",
		"ansible/roles/jitsi/defaults/main.yml":             "jitsi_jvb_media_port: 10000\n",
		"ansible/roles/monitoring/defaults/main.yml":        "monitoring_prometheus_listen_address: 127.0.0.1:9090\n",
		"ansible/roles/base/templates/nftables.conf.j2":     "\t\tmeta l4proto { icmp, ipv6-icmp } accept\n\t\ttcp dport {{ base_ssh_port }}{% if x %} ip saddr { {{ base_firewall_ssh_sources | join(', ') }} }{% endif %} accept\n\t\tmeta l4proto { tcp, udp } th dport 8301 ip saddr { {{ base_firewall_consul_sources | join(', ') }} } accept\n",
		"ansible/roles/jitsi/templates/input.nft.j2":        "# tcp dport 1 accept\ntcp dport { 80, 443 } accept\nudp dport {{ jitsi_jvb_media_port }} accept\nudp dport 49152-49999 accept\n",
		"ansible/roles/jitsi/files/firstboot/node.nft.tmpl": "tcp dport 9105 ip saddr { {{ join .MonitoringSources \", \" }} } accept\n",
		"ansible/roles/monitoring/templates/m.nft.j2":       "tcp dport {{ monitoring_prometheus_listen_address.rsplit(':', 1)[1] }} ip saddr { {{ monitoring_prometheus_allowed_networks | join(', ') }} } accept\n",
		"ansible/roles/selector/tasks/firewall.yml":         "- copy:\n    content: |\n      # comment\n      tcp dport { 80, 443 } accept\n",
	}
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := nftablesRules(root)
	if err != nil {
		t.Fatal(err)
	}
	want := sortRules([]fwRule{
		{"base", "icmp", "", "any"},
		{"base", "tcp", "22", "ssh"},
		{"base", "tcp", "8301", "private"},
		{"base", "udp", "8301", "private"},
		{"jitsi", "tcp", "80", "any"},
		{"jitsi", "tcp", "443", "any"},
		{"jitsi", "udp", "10000", "any"},
		{"jitsi", "udp", "49152-49999", "any"},
		{"jitsi", "tcp", "9105", "monitoring"},
		{"monitoring", "tcp", "9090", "prometheus_clients"},
		{"selector", "tcp", "80", "any"},
		{"selector", "tcp", "443", "any"},
	})
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got\n%v\nwant\n%v", got, want)
	}

	// A rule whose port is an unknown variable, or whose source is unknown, is an error.
	for name, line := range map[string]string{
		"unknown-port":   "tcp dport {{ nope }} accept\n",
		"unknown-source": "tcp dport 1 ip saddr { 10.0.0.0/8 } accept\n",
	} {
		p := filepath.Join(root, "ansible/roles/jitsi/templates/input.nft.j2")
		if err := os.WriteFile(p, []byte(line), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := nftablesRules(root); err == nil {
			t.Errorf("%s: want an error for %q", name, line)
		}
	}
}
