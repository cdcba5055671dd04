// Package registration is the contract between a Jitsi node's sidecar and the selector as it is
// written into Consul: the service Meta keys, the rules for a node's public URL and for its
// service ID, and the domain allowlist the selector applies to public URLs. The sidecar checks
// what it registers with it and the selector checks what it reads, so the two sides agree
// without importing each other; only the wire (Consul) joins them.
package registration

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/idna"
)

// Meta keys of a node's service registration (docs/design/contracts.md).
const (
	MetaPublicURL   = "public_url"
	MetaRegion      = "region"
	MetaCapacity    = "capacity"
	MetaSidecarPort = "sidecar_port"
	MetaVersion     = "version"
)

// NodeCheckPrefix starts the ID of the node-level check a sidecar registers through its local
// agent when its service ID is its Consul node's name: NodeCheckID.
const NodeCheckPrefix = "ensemble-sidecar:"

// NodeCheckID is the ID of the node-level health check of the sidecar with service ID id. It is a
// node check, not a service check, because Consul asks for node:write on the node to write one,
// which only that node's own tokens hold; any token that may write the jitsi service may write a
// service check on every node's instance. The selector trusts only this check for a bound node's
// health (docs/security.md, N1d).
func NodeCheckID(id string) string { return NodeCheckPrefix + id }

// MaxServiceIDLen bounds a service ID: it becomes a Prometheus label, a log field and part of
// every room binding.
const MaxServiceIDLen = 64

// ValidServiceID checks a node's Consul service ID: 1 to MaxServiceIDLen ASCII letters, digits,
// '.', '-' and '_', starting with a letter or digit (host names qualify).
func ValidServiceID(id string) error {
	if id == "" {
		return errors.New("service ID is empty")
	}
	if len(id) > MaxServiceIDLen {
		return fmt.Errorf("service ID of %d bytes, at most %d", len(id), MaxServiceIDLen)
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case (c == '-' || c == '_' || c == '.') && i > 0:
		default:
			return fmt.Errorf("service ID %q: character %q at %d (allowed: letters, digits, '.', '-' and '_' after the first)", id, id[i:i+1], i)
		}
	}
	return nil
}

// ParsePublicURL checks a `public_url` value and returns it normalised to https://host[:port].
// Anything that could turn a redirect into an open redirect, a credential leak or a homograph
// is refused: other schemes, relative URLs, user info, a path other than "/", a query, a
// fragment, an empty or out-of-range port, IPv6 zones, and any host that is neither an IP
// literal nor a DNS name of RFC 1123 labels (internationalised names only as IDNA A-labels,
// "xn--...", never as raw Unicode).
func ParsePublicURL(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("public_url is empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("public_url: %w", err)
	}
	switch {
	case u.Scheme != "https":
		return "", fmt.Errorf("public_url %q: scheme must be https", raw)
	case u.Opaque != "" || u.Host == "":
		return "", fmt.Errorf("public_url %q: not an absolute URL with a host", raw)
	case u.User != nil || strings.Contains(raw[len("https://"):], "@"):
		return "", fmt.Errorf("public_url %q: user info is not allowed", raw)
	case u.Path != "" && u.Path != "/", u.RawPath != "":
		return "", fmt.Errorf("public_url %q: a path is not allowed", raw)
	case u.RawQuery != "" || u.ForceQuery:
		return "", fmt.Errorf("public_url %q: a query is not allowed", raw)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "", fmt.Errorf("public_url %q: a fragment is not allowed", raw)
	}
	host, err := checkHost(u.Hostname())
	if err != nil {
		return "", fmt.Errorf("public_url %q: %w", raw, err)
	}
	hostport := host
	if strings.Contains(host, ":") {
		hostport = "[" + host + "]"
	}
	if strings.HasSuffix(u.Host, ":") {
		return "", fmt.Errorf("public_url %q: empty port", raw)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != p {
			return "", fmt.Errorf("public_url %q: bad port", raw)
		}
		hostport = net.JoinHostPort(host, p)
	}
	return "https://" + hostport, nil
}

// Host returns the host of a URL ParsePublicURL returned, without brackets or port.
func Host(publicURL string) string {
	h := strings.TrimPrefix(publicURL, "https://")
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i > 0 {
			return h[1:i]
		}
		return ""
	}
	if i := strings.IndexByte(h, ':'); i >= 0 {
		return h[:i]
	}
	return h
}

// checkHost returns host in canonical form (lower case; IPs as netip formats them) or explains
// why it is not an IP literal nor a DNS name.
func checkHost(host string) (string, error) {
	if host == "" {
		return "", errors.New("empty host")
	}
	if strings.Contains(host, "%") {
		return "", errors.New("a zone or percent-escape in the host is not allowed")
	}
	// Only what can be an IP literal is parsed as one: a failed parse allocates its error, and
	// this runs for every node on every catalog change.
	if strings.Contains(host, ":") || strings.Trim(host, "0123456789.") == "" {
		if ip, err := netip.ParseAddr(host); err == nil {
			return ip.String(), nil
		}
	}
	host = strings.ToLower(host)
	if err := dnsName(host); err != nil {
		return "", err
	}
	return host, nil
}

// dnsName checks an RFC 1123 host name (letters, digits and inner hyphens per label, labels of
// 1 to 63 bytes, at most 253 bytes, a top-level label that is not all digits), with every
// "xn--" label a valid IDNA A-label.
func dnsName(host string) error {
	if len(host) > 253 {
		return fmt.Errorf("host name of %d bytes, at most 253", len(host))
	}
	last := ""
	for i, rest := 0, host; rest != "" || i == 0; i++ {
		l, after, _ := strings.Cut(rest, ".")
		rest, last = after, l
		if l == "" || len(l) > 63 {
			return fmt.Errorf("host %q: label %d is empty or longer than 63 bytes", host, i+1)
		}
		for j := 0; j < len(l); j++ {
			c := l[j]
			ok := 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' && j > 0 && j < len(l)-1
			if !ok {
				return fmt.Errorf("host %q: character %q is not allowed (letters, digits and inner hyphens; international names as xn-- A-labels)", host, l[j:j+1])
			}
		}
		if len(l) >= 4 && l[2:4] == "--" {
			if !strings.HasPrefix(l, "xn--") {
				return fmt.Errorf("host %q: label %q has hyphens in the 3rd and 4th positions but is not an A-label", host, l)
			}
			u, err := idna.Lookup.ToUnicode(l)
			if err != nil {
				return fmt.Errorf("host %q: label %q is not a valid IDNA A-label: %w", host, l, err)
			}
			if back, err := idna.Lookup.ToASCII(u); err != nil || back != l {
				return fmt.Errorf("host %q: label %q is not a canonical IDNA A-label", host, l)
			}
		}
	}
	if strings.HasSuffix(host, ".") {
		return fmt.Errorf("host %q: label is empty", host)
	}
	if strings.Trim(last, "0123456789") == "" {
		return fmt.Errorf("host %q: the top-level label is all digits (not an IP address either)", host)
	}
	return nil
}

// Domains is a suffix allowlist for public URL hosts. The zero value allows every host.
type Domains struct{ suffixes []string }

// ParseDomains builds an allowlist: each entry is a DNS name ("example.org" allows example.org
// and every name under it) or an IP address (allowed exactly). A leading "." or "*." is
// accepted and means the same.
func ParseDomains(entries []string) (Domains, error) {
	var d Domains
	for _, e := range entries {
		e = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(e), "*"), ".")
		h, err := checkHost(e)
		if err != nil {
			return Domains{}, fmt.Errorf("allowed domain %q: %w", e, err)
		}
		d.suffixes = append(d.suffixes, h)
	}
	return d, nil
}

// Allows reports whether host (as ParsePublicURL normalised it) is allowed.
func (d Domains) Allows(host string) bool {
	if len(d.suffixes) == 0 {
		return true
	}
	for _, s := range d.suffixes {
		if host == s {
			return true
		}
		// IP entries match exactly; names match themselves and every name under them.
		if _, err := netip.ParseAddr(s); err != nil && strings.HasSuffix(host, "."+s) {
			return true
		}
	}
	return false
}

// BoundURL reports whether publicURL (as ParsePublicURL normalised it) is the one URL a node
// whose Consul node is named node may serve under: https://<node>.<entry> for a DNS entry of the
// allowlist, or https://<node> when the node name is already such a name (an agent on a host
// whose host name is fully qualified), on the default port. Only the node's own agent token may
// write its Consul node name, so a URL bound to it cannot be claimed by another node's token; a
// port, an IP literal or a name not directly under an allowed domain is never bound.
func (d Domains) BoundURL(node, publicURL string) bool {
	if ValidServiceID(node) != nil {
		return false
	}
	label, rest, fqdn := strings.Cut(strings.ToLower(node), ".")
	for _, s := range d.suffixes {
		if _, err := netip.ParseAddr(s); err == nil {
			continue
		}
		if fqdn && rest != s {
			continue
		}
		if publicURL == "https://"+label+"."+s {
			return true
		}
	}
	return false
}

// Empty reports whether the allowlist allows everything.
func (d Domains) Empty() bool { return len(d.suffixes) == 0 }
