// Command gen writes the test PKI and the user-data cases of this directory:
//
//	cd internal/firstboot/userdata && go run ./testdata/gen
//
// The certificates are valid from 2026-01-01 to 2046-01-01 (the expired one until
// 2026-06-01); the tests validate as of 2027-01-01. Each bad/*.yaml is good.yaml with one
// change, and its second line says which error it must produce.
package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"
)

var (
	from   = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	until  = time.Date(2046, 1, 1, 0, 0, 0, 0, time.UTC)
	serial = int64(1)
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func ec() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

func cert(tmpl *x509.Certificate, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	serial++
	tmpl.SerialNumber = big.NewInt(serial)
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		panic(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return c
}

func ca(name string, k crypto.Signer) *x509.Certificate {
	return cert(&x509.Certificate{
		Subject: pkix.Name{CommonName: name}, NotBefore: from, NotAfter: until,
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, nil, k.Public(), k)
}

func leaf(names []string, notAfter time.Time, pub crypto.PublicKey, parent *x509.Certificate, signer crypto.Signer) *x509.Certificate {
	return cert(&x509.Certificate{
		Subject: pkix.Name{CommonName: names[0]}, DNSNames: names, NotBefore: from, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}, parent, pub, signer)
}

func certPEM(cs ...*x509.Certificate) string {
	var b strings.Builder
	for _, c := range cs {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.String()
}

func keyPEM(k crypto.Signer) string {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func indent(s string) string {
	return "      " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n      ")
}

func run() error {
	consulKey, webKey, nodeKey, otherKey := ec(), ec(), ec(), ec()
	consulCA, webCA := ca("Ensemble Test Consul CA", consulKey), ca("Ensemble Test Web CA", webKey)
	wildcard := leaf([]string{"*.example.org", "example.org"}, until, nodeKey.Public(), webCA, webKey)
	otherName := leaf([]string{"meet.example.net"}, until, nodeKey.Public(), webCA, webKey)
	expired := leaf([]string{"*.example.org"}, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), nodeKey.Public(), webCA, webKey)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	rsaLeaf := leaf([]string{"meet-0003.example.org"}, until, rsaKey.Public(), webCA, webKey)
	rsaPKCS1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}))

	files := map[string]string{
		"pki/consul-ca.pem": certPEM(consulCA),
		"pki/web-ca.pem":    certPEM(webCA),
		"pki/wildcard.pem":  certPEM(wildcard, webCA),
		"pki/wildcard.key":  keyPEM(nodeKey),
	}
	good := fmt.Sprintf(`#cloud-config
# A node with a provided wildcard certificate; the other keys are cloud-init's.
ssh_authorized_keys:
  - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleExampleExampleExampleExampleExample ops@example.org
ensemble:
  version: 1
  public_name: meet-0003.example.org
  region: fr-par
  private_cidr: 172.16.0.0/22
  private_interface: ens5
  monitoring_sources:
    - 172.16.0.10/32
    - 172.16.0.11/32
  tls:
    mode: provided
    certificate: |
%s
    key: |
%s
  consul:
    datacenter: par1
    retry_join: [172.16.0.2, 172.16.0.3, "provider=scaleway tag_name=consul-server"]
    encrypt: pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=
    ca_certificate: |
%s
    agent_token: 3f6a2a8e-5b1c-4d7e-9f10-2a3b4c5d6e7f
    sidecar_token: 9b8c7d6e-5f4a-4b3c-8d2e-1f0a9b8c7d6e
  turn:
    secret: 0123456789abcdef0123456789abcdef-turn
`, indent(certPEM(wildcard, webCA)), indent(keyPEM(nodeKey)), indent(certPEM(consulCA)))
	files["good/provided.yaml"] = good
	acme := strings.Replace(good, "    mode: provided\n    certificate: |\n"+indent(certPEM(wildcard, webCA))+"\n    key: |\n"+indent(keyPEM(nodeKey))+"\n",
		"    mode: acme\n    acme_email: ops@example.org\n", 1)
	files["good/acme.yaml"] = acme
	files["good/minimal.yaml"] = strings.NewReplacer(
		"  region: fr-par\n", "",
		"  private_interface: ens5\n", "",
		"    datacenter: par1\n", "",
		"    acme_email: ops@example.org\n", "",
		"private_cidr: 172.16.0.0/22", "private_cidr: 100.64.8.0/24",
	).Replace(acme)
	files["good/rsa.yaml"] = strings.NewReplacer(
		indent(certPEM(wildcard, webCA)), indent(certPEM(rsaLeaf)),
		indent(keyPEM(nodeKey)), indent(rsaPKCS1),
		"private_cidr: 172.16.0.0/22", "private_cidr: fd12:3456:789a::/48",
	).Replace(good)

	bad := []struct{ name, want, old, new string }{
		{"no-cloud-config", "first line must be #cloud-config", "#cloud-config\n", "#!/bin/sh\n"},
		{"no-ensemble", "ensemble is required", "ensemble:\n", "other:\n"},
		{"unknown-key", "ensemble.tls.mod is not a known setting", "    mode: provided", "    mod: provided"},
		{"unknown-top", "ensemble.public_url is not a known setting", "  public_name:", "  public_url:"},
		{"duplicate", "ensemble.region is given twice", "  region: fr-par\n", "  region: fr-par\n  region: nl-ams\n"},
		{"wrong-type", "ensemble.version has the wrong type", "version: 1", "version: one"},
		{"list-not-string", "ensemble.monitoring_sources must be a list", "  monitoring_sources:\n    - 172.16.0.10/32\n    - 172.16.0.11/32\n", "  monitoring_sources: 172.16.0.10/32\n"},
		{"version-2", "ensemble.version is 2", "version: 1", "version: 2"},
		{"no-version", "ensemble.version is required", "  version: 1\n", ""},
		{"no-public-name", "ensemble.public_name is required", "  public_name: meet-0003.example.org\n", ""},
		{"upper-public-name", "ensemble.public_name \"Meet-0003.example.org\" must be lower case", "public_name: meet-0003", "public_name: Meet-0003"},
		{"unicode-public-name", "is not an RFC 1123 host name", "public_name: meet-0003", "public_name: réunion"},
		{"underscore-public-name", "is not an RFC 1123 host name", "public_name: meet-0003", "public_name: meet_0003"},
		{"single-label", "is not a fully qualified name", "public_name: meet-0003.example.org", "public_name: meet"},
		{"bad-region", "ensemble.region", "region: fr-par", "region: FR_PAR"},
		{"no-private-cidr", "ensemble.private_cidr is required", "  private_cidr: 172.16.0.0/22\n", ""},
		{"public-cidr", "ensemble.private_cidr 8.8.8.0/24 is not a private network", "172.16.0.0/22", "8.8.8.0/24"},
		{"too-wide-cidr", "is not a private network", "172.16.0.0/22", "172.0.0.0/8"},
		{"host-bits-cidr", "has host bits set", "172.16.0.0/22", "172.16.0.5/22"},
		{"bad-interface", "ensemble.private_interface", "private_interface: ens5", "private_interface: a-very-long-interface-name"},
		{"no-monitoring", "ensemble.monitoring_sources is required", "  monitoring_sources:\n    - 172.16.0.10/32\n    - 172.16.0.11/32\n", ""},
		{"bad-monitoring", "ensemble.monitoring_sources[1] \"172.16.0.300/32\" is not a CIDR", "172.16.0.11/32", "172.16.0.300/32"},
		{"monitoring-everywhere", "ensemble.monitoring_sources[1] 0.0.0.0/0 is wider than a /8", "172.16.0.11/32", "0.0.0.0/0"},
		{"monitoring-wide", "ensemble.monitoring_sources[1] 128.0.0.0/1 is wider than a /8", "172.16.0.11/32", "128.0.0.0/1"},
		{"monitoring-ipv6-any", "ensemble.monitoring_sources[1] ::/0 is not an IPv4 network", "172.16.0.11/32", "::/0"},
		{"monitoring-ipv6", "ensemble.monitoring_sources[1] fd00:42::/64 is not an IPv4 network", "172.16.0.11/32", "fd00:42::/64"},
		{"monitoring-mapped", "ensemble.monitoring_sources[1] ::ffff:172.16.0.11/128 is not an IPv4 network", "172.16.0.11/32", "::ffff:172.16.0.11/128"},
		{"no-mode", "ensemble.tls.mode is required", "    mode: provided\n", ""},
		{"bad-mode", "ensemble.tls.mode is \"self-signed\"", "mode: provided", "mode: self-signed"},
		{"no-cert", "ensemble.tls.certificate is required", "    certificate: |\n" + indent(certPEM(wildcard, webCA)) + "\n", ""},
		{"no-key", "ensemble.tls.key is required", "    key: |\n" + indent(keyPEM(nodeKey)) + "\n", ""},
		{"garbage-cert", "ensemble.tls.certificate holds no PEM certificate", indent(certPEM(wildcard, webCA)), "      not a certificate"},
		{"key-as-cert", "ensemble.tls.certificate has a PEM block \"PRIVATE KEY\"", indent(certPEM(wildcard, webCA)), indent(keyPEM(otherKey))},
		{"wrong-name-cert", "ensemble.tls.certificate does not cover meet-0003.example.org (its names: meet.example.net)", indent(certPEM(wildcard, webCA)), indent(certPEM(otherName))},
		{"expired-cert", "ensemble.tls.certificate expired on 2026-06-01", indent(certPEM(wildcard, webCA)), indent(certPEM(expired))},
		{"wrong-key", "ensemble.tls.key does not match the certificate", indent(keyPEM(nodeKey)), indent(keyPEM(otherKey))},
		{"garbage-key", "ensemble.tls.key holds no PEM private key", indent(keyPEM(nodeKey)), "      not a key"},
		{"acme-with-cert", "ensemble.tls sets acme_email or acme_directory with mode provided", "    mode: provided\n", "    mode: provided\n    acme_email: ops@example.org\n"},
		{"no-retry-join", "ensemble.consul.retry_join is required", "    retry_join: [172.16.0.2, 172.16.0.3, \"provider=scaleway tag_name=consul-server\"]\n", ""},
		{"bad-retry-join", "ensemble.consul.retry_join[1]", "172.16.0.3,", "\"172.16.0.3 ; rm -rf\","},
		{"no-encrypt", "ensemble.consul.encrypt is required", "    encrypt: pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=\n", ""},
		{"bad-encrypt", "ensemble.consul.encrypt is not base64", "pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=", "not-base64!"},
		{"multiline-encrypt", "ensemble.consul.encrypt is not base64", "    encrypt: pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=\n", "    encrypt: |\n      pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=\n"},
		{"short-encrypt", "ensemble.consul.encrypt decodes to 8 bytes", "pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=", "AAAAAAAAAAA="},
		{"no-ca", "ensemble.consul.ca_certificate is required", "    ca_certificate: |\n" + indent(certPEM(consulCA)) + "\n", ""},
		{"leaf-as-ca", "ensemble.consul.ca_certificate certificate 1 (CN=*.example.org) is not a CA certificate", indent(certPEM(consulCA)), indent(certPEM(wildcard))},
		{"no-agent-token", "ensemble.consul.agent_token is required", "    agent_token: 3f6a2a8e-5b1c-4d7e-9f10-2a3b4c5d6e7f\n", ""},
		{"bad-agent-token", "ensemble.consul.agent_token is not a Consul token", "3f6a2a8e-5b1c-4d7e-9f10-2a3b4c5d6e7f", "root"},
		{"no-sidecar-token", "ensemble.consul.sidecar_token is required", "    sidecar_token: 9b8c7d6e-5f4a-4b3c-8d2e-1f0a9b8c7d6e\n", ""},
		{"same-tokens", "ensemble.consul.sidecar_token is the agent token", "9b8c7d6e-5f4a-4b3c-8d2e-1f0a9b8c7d6e", "3f6a2a8e-5b1c-4d7e-9f10-2a3b4c5d6e7f"},
		{"no-turn", "ensemble.turn.secret is required", "  turn:\n    secret: 0123456789abcdef0123456789abcdef-turn\n", ""},
		{"short-turn", "ensemble.turn.secret has 6 characters", "0123456789abcdef0123456789abcdef-turn", "secret"},
		{"alias", "uses a YAML alias", "  region: fr-par\n", "  region: &r fr-par\n  private_interface: *r\n"},
		{"not-yaml", "is not valid YAML", "  version: 1\n", "  version: [1\n"},
	}
	for _, b := range bad {
		if !strings.Contains(good, b.old) {
			return fmt.Errorf("bad/%s: %q is not in good/provided.yaml", b.name, b.old)
		}
		doc := strings.Replace(good, b.old, b.new, 1)
		if b.name == "no-cloud-config" {
			files["bad/"+b.name+".yaml"] = doc + "# want: " + b.want + "\n"
			continue
		}
		head, rest, _ := strings.Cut(doc, "\n")
		files["bad/"+b.name+".yaml"] = head + "\n# want: " + b.want + "\n" + rest
	}
	if !strings.Contains(files["bad/no-ensemble.yaml"], "other:") {
		return fmt.Errorf("bad/no-ensemble not rewritten")
	}
	for name, text := range files {
		name = filepath.Join("testdata", name)
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
			return err
		}
	}
	return nil
}
