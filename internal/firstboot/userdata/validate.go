package userdata

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// privateRanges are the networks a private_cidr must lie in: RFC 1918, RFC 6598 (carrier-grade
// NAT, which some clouds use for private networks) and IPv6 unique local addresses.
var privateRanges = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("fc00::/7"),
}

var (
	labelRE      = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	regionRE     = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$`)
	datacenterRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
	uuidRE       = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	// ifaceRE follows Linux's rules (IFNAMSIZ 16 with the NUL; no '/', ':' or white space).
	ifaceRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,15}$`)
	// joinTokenRE is one retry_join entry: an address, a host name with an optional port, or a
	// go-discover string of key=value words ("provider=scaleway tag_name=consul ...").
	discoverWordRE = regexp.MustCompile(`^[a-z_]+=[^\s"'\\]+$`)
)

// Validate checks every field as of now (certificates must be valid then) and fills
// defaults (consul.datacenter, tls.acme_directory). The first problem found is returned.
func (c *Config) Validate(now time.Time) error {
	checks := []func(time.Time) error{c.validateNode, c.TLS.validate(c.PublicName), c.Consul.validate, c.TURN.validate}
	for _, check := range checks {
		if err := check(now); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) validateNode(time.Time) error {
	switch {
	case c.Version == 0:
		return fieldErr("ensemble.version", "is required (the only version is 1)")
	case c.Version != 1:
		return fieldErr("ensemble.version", "is %d; this command knows only version 1", c.Version)
	}
	if err := ValidateName(c.PublicName); err != nil {
		return fieldErr("ensemble.public_name", "%v", err)
	}
	if c.Region != "" && !regionRE.MatchString(c.Region) {
		return fieldErr("ensemble.region", "%q must be lower-case letters, digits and '-', at most 32", c.Region)
	}
	if c.PrivateCIDR == "" {
		return fieldErr("ensemble.private_cidr", "is required")
	}
	p, err := parseCIDR(c.PrivateCIDR)
	if err != nil {
		return fieldErr("ensemble.private_cidr", "%v", err)
	}
	if !isPrivate(p) {
		return fieldErr("ensemble.private_cidr", "%s is not a private network (RFC 1918, RFC 6598 or IPv6 ULA)", p)
	}
	if c.PrivateInterface != "" && (!ifaceRE.MatchString(c.PrivateInterface) || c.PrivateInterface == "." || c.PrivateInterface == "..") {
		return fieldErr("ensemble.private_interface", "%q is not a network interface name", c.PrivateInterface)
	}
	if len(c.MonitoringSources) == 0 {
		return fieldErr("ensemble.monitoring_sources", "is required (at least one CIDR)")
	}
	for i, s := range c.MonitoringSources {
		field := fmt.Sprintf("ensemble.monitoring_sources[%d]", i)
		p, err := parseCIDR(s)
		if err != nil {
			return fieldErr(field, "%v", err)
		}
		// The node's firewall admits the sources with an "ip saddr" rule: an IPv6 network
		// there fails the whole ruleset, and a wide IPv4 one (0.0.0.0/0) opens the sidecar's
		// port to the Internet. The widest private range is a /8.
		if !p.Addr().Is4() {
			return fieldErr(field, "%s is not an IPv4 network; the firewall admits monitoring sources by IPv4 address only", p)
		}
		if p.Bits() < 8 {
			return fieldErr(field, "%s is wider than a /8; list the Prometheus servers' own addresses or networks", p)
		}
	}
	return nil
}

// ValidateName checks that name is a lower-case RFC 1123 host name of at least two labels,
// in A-label form (punycode, no Unicode), as browsers and certificates use it.
func ValidateName(name string) error {
	if name == "" {
		return errors.New("is required")
	}
	if len(name) > 253 {
		return fmt.Errorf("is %d characters; a host name has at most 253", len(name))
	}
	if strings.ToLower(name) != name {
		return fmt.Errorf("%q must be lower case", name)
	}
	labels := strings.Split(name, ".")
	if len(labels) < 2 {
		return fmt.Errorf("%q is not a fully qualified name (no dot)", name)
	}
	for _, l := range labels {
		if !labelRE.MatchString(l) {
			return fmt.Errorf("%q is not an RFC 1123 host name: label %q must be 1 to 63 of a-z, 0-9 and '-', not starting or ending with '-' (Unicode names go in their xn-- form)", name, l)
		}
	}
	if tld := labels[len(labels)-1]; strings.Trim(tld, "0123456789") == "" {
		return fmt.Errorf("%q looks like an IP address; a public name is a DNS name", name)
	}
	return nil
}

// parseCIDR accepts a network in CIDR notation whose host bits are zero.
func parseCIDR(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR (e.g. 172.16.0.0/22)", s)
	}
	if p.Addr().Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q has a zone; a CIDR has none", s)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Errorf("%q has host bits set; the network is %s", s, m)
	}
	return p, nil
}

func isPrivate(p netip.Prefix) bool {
	p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits())
	for _, r := range privateRanges {
		if p.Addr().Is4() == r.Addr().Is4() && p.Bits() >= r.Bits() && r.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

func (t *TLS) validate(name string) func(time.Time) error {
	return func(now time.Time) error {
		switch t.Mode {
		case "":
			return fieldErr("ensemble.tls.mode", "is required (provided or acme)")
		case ModeProvided:
			if t.ACMEEmail != "" || t.ACMEDirectory != "" {
				return fieldErr("ensemble.tls", "sets acme_email or acme_directory with mode provided; remove them or use mode acme")
			}
			if t.Certificate == "" {
				return fieldErr("ensemble.tls.certificate", "is required with mode provided")
			}
			if t.Key == "" {
				return fieldErr("ensemble.tls.key", "is required with mode provided")
			}
			_, err := CheckKeyPair([]byte(t.Certificate), []byte(t.Key), name, now)
			return err
		case ModeACME:
			if t.Certificate != "" || t.Key != "" {
				return fieldErr("ensemble.tls", "sets certificate or key with mode acme; remove them or use mode provided")
			}
			if t.ACMEEmail != "" {
				a, err := mail.ParseAddress(t.ACMEEmail)
				if err != nil || a.Address != t.ACMEEmail {
					return fieldErr("ensemble.tls.acme_email", "%q is not a plain e-mail address", t.ACMEEmail)
				}
			}
			if t.ACMEDirectory == "" {
				t.ACMEDirectory = DefaultACMEDirectory
			}
			u, err := url.Parse(t.ACMEDirectory)
			if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
				return fieldErr("ensemble.tls.acme_directory", "%q is not an https URL", t.ACMEDirectory)
			}
			return nil
		default:
			return fieldErr("ensemble.tls.mode", "is %q; it must be provided or acme", t.Mode)
		}
	}
}

// CheckKeyPair parses a PEM certificate chain and a PEM private key and checks that the
// leaf (the first certificate) covers name (a wildcard counts), is valid at now, and
// matches the key. It returns the parsed chain. Errors name the user-data field.
func CheckKeyPair(certPEM, keyPEM []byte, name string, now time.Time) ([]*x509.Certificate, error) {
	chain, err := parseCertificates(certPEM)
	if err != nil {
		return nil, fieldErr("ensemble.tls.certificate", "%v", err)
	}
	leaf := chain[0]
	if err := leaf.VerifyHostname(name); err != nil {
		return nil, fieldErr("ensemble.tls.certificate", "does not cover %s (its names: %s)", name, strings.Join(leaf.DNSNames, ", "))
	}
	if now.Before(leaf.NotBefore) {
		return nil, fieldErr("ensemble.tls.certificate", "is not valid before %s", leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	if !now.Before(leaf.NotAfter) {
		return nil, fieldErr("ensemble.tls.certificate", "expired on %s", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, fieldErr("ensemble.tls.key", "%v", err)
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(leaf.PublicKey) {
		return nil, fieldErr("ensemble.tls.key", "does not match the certificate's public key")
	}
	return chain, nil
}

// parseCertificates reads every CERTIFICATE block of a PEM text; anything else is an error.
func parseCertificates(b []byte) ([]*x509.Certificate, error) {
	var chain []*x509.Certificate
	rest := b
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("has a PEM block %q; only CERTIFICATE blocks belong here", blk.Type)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d does not parse: %v", len(chain)+1, err)
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		return nil, errors.New("holds no PEM certificate")
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, errors.New("has text after its last PEM block")
	}
	return chain, nil
}

// parseKey reads one PEM private key: PKCS #8, PKCS #1 (RSA) or SEC 1 (EC).
func parseKey(b []byte) (crypto.Signer, error) {
	blk, rest := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("holds no PEM private key")
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, errors.New("has more than one PEM block")
	}
	var (
		k   any
		err error
	)
	switch blk.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(blk.Bytes)
	default:
		return nil, fmt.Errorf("has a PEM block %q, not a private key (encrypted keys are not supported)", blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("does not parse: %v", err)
	}
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	default:
		return nil, fmt.Errorf("is a %T, not an RSA, ECDSA or Ed25519 key", k)
	}
}

func (c *Consul) validate(now time.Time) error {
	if c.Datacenter == "" {
		c.Datacenter = "dc1"
	}
	if !datacenterRE.MatchString(c.Datacenter) {
		return fieldErr("ensemble.consul.datacenter", "%q must be letters, digits, '-' and '_'", c.Datacenter)
	}
	if len(c.RetryJoin) == 0 {
		return fieldErr("ensemble.consul.retry_join", "is required (at least one server address)")
	}
	for i, j := range c.RetryJoin {
		if err := validateJoin(j); err != nil {
			return fieldErr(fmt.Sprintf("ensemble.consul.retry_join[%d]", i), "%v", err)
		}
	}
	if c.Encrypt == "" {
		return fieldErr("ensemble.consul.encrypt", "is required (consul keygen)")
	}
	// Go's decoder skips line breaks, which would then reach Consul's configuration.
	key, err := base64.StdEncoding.DecodeString(c.Encrypt)
	if err != nil || strings.ContainsFunc(c.Encrypt, unicode.IsSpace) {
		return fieldErr("ensemble.consul.encrypt", "is not base64 (consul keygen prints the right form)")
	}
	if n := len(key); n != 16 && n != 24 && n != 32 {
		return fieldErr("ensemble.consul.encrypt", "decodes to %d bytes; a gossip key has 16, 24 or 32", n)
	}
	if c.CACertificate == "" {
		return fieldErr("ensemble.consul.ca_certificate", "is required")
	}
	cas, err := parseCertificates([]byte(c.CACertificate))
	if err != nil {
		return fieldErr("ensemble.consul.ca_certificate", "%v", err)
	}
	for i, ca := range cas {
		if !ca.IsCA {
			return fieldErr("ensemble.consul.ca_certificate", "certificate %d (%s) is not a CA certificate", i+1, ca.Subject)
		}
		if !now.Before(ca.NotAfter) {
			return fieldErr("ensemble.consul.ca_certificate", "certificate %d (%s) expired on %s", i+1, ca.Subject, ca.NotAfter.UTC().Format(time.RFC3339))
		}
	}
	for _, tok := range []struct{ path, v string }{
		{"ensemble.consul.agent_token", c.AgentToken},
		{"ensemble.consul.sidecar_token", c.SidecarToken},
	} {
		if tok.v == "" {
			return fieldErr(tok.path, "is required")
		}
		if !uuidRE.MatchString(tok.v) {
			return fieldErr(tok.path, "is not a Consul token (a lower-case UUID)")
		}
	}
	if c.AgentToken == c.SidecarToken {
		return fieldErr("ensemble.consul.sidecar_token", "is the agent token; the sidecar needs its own token")
	}
	return nil
}

func validateJoin(s string) error {
	if s == "" {
		return errors.New("is empty")
	}
	if strings.Contains(s, "provider=") {
		for _, w := range strings.Fields(s) {
			if !discoverWordRE.MatchString(w) {
				return fmt.Errorf("%q is not a go-discover string (key=value words)", s)
			}
		}
		return nil
	}
	host := s
	if h, port, err := net.SplitHostPort(s); err == nil {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%q has a bad port %q", s, port)
		}
		host = h
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	if ValidateName(host) == nil || labelRE.MatchString(host) {
		return nil
	}
	return fmt.Errorf("%q is not an address, a lower-case host name or a go-discover string", s)
}

func (t *TURN) validate(time.Time) error {
	switch {
	case t.Secret == "":
		return fieldErr("ensemble.turn.secret", "is required")
	case len(t.Secret) < 32:
		return fieldErr("ensemble.turn.secret", "has %d characters; it needs at least 32", len(t.Secret))
	case strings.ContainsFunc(t.Secret, func(r rune) bool { return r <= ' ' || r == '"' || r == '\\' || r == '\'' || r > '~' }):
		return fieldErr("ensemble.turn.secret", "may hold only printable ASCII without spaces or quotes")
	}
	return nil
}
