package testenv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/lab/services"
)

// PebbleVersion is the pebble built by scripts/install-deps.sh from tools/pebble.
const PebbleVersion = "v2.10.3"

// Pebble is Let's Encrypt's test ACME server, with pebble-challtestsrv as its DNS server
// answering 127.0.0.1 for every name, so that HTTP-01 validations of any name come to
// 127.0.0.1:HTTPPort.
type Pebble struct {
	// Directory is the ACME directory URL (https, signed by the CA in CAFile).
	Directory string
	// CAFile is the PEM CA that signed the directory's TLS certificate.
	CAFile string
	// HTTPPort is where pebble's validation authority connects for http-01 challenges.
	HTTPPort int
	// Client trusts CAFile.
	Client *http.Client
	// DNSManagementURL is pebble-challtestsrv's management API (POST /set-default-ipv4,
	// /add-a...), to change what the CA's DNS answers during a test.
	DNSManagementURL string
}

// PebblePath finds a pebble command: $ENSEMBLE_PEBBLE (for pebble; its directory for the
// DNS server), else ~/.cache/ensemble/<cmd>-PebbleVersion.
func PebblePath(cmd string) (string, error) {
	if p := os.Getenv("ENSEMBLE_PEBBLE"); p != "" {
		if cmd != "pebble" {
			p = filepath.Join(filepath.Dir(p), cmd+"-"+PebbleVersion)
		}
		return p, nil
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		cache = filepath.Join(home, ".cache")
	}
	p := filepath.Join(cache, "ensemble", cmd+"-"+PebbleVersion)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s %s not found: run scripts/install-deps.sh (%w)", cmd, PebbleVersion, err)
	}
	return p, nil
}

// StartPebble starts pebble and its DNS server on loopback, stopped when the test ends.
// Pebble validates at once (PEBBLE_VA_NOSLEEP) and never rejects a nonce on purpose.
func StartPebble(t testing.TB) *Pebble {
	t.Helper()
	pebble, err := PebblePath("pebble")
	if err != nil {
		t.Fatal(err)
	}
	dnsBin, err := PebblePath("pebble-challtestsrv")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	caFile, certFile, keyFile, pool := writeLoopbackTLS(t, dir)
	ports := make([]int, 5)
	for i := range ports {
		ports[i] = FreePort(t)
	}
	apiPort, mgmtPort, httpPort, tlsPort, dnsPort := ports[0], ports[1], ports[2], ports[3], ports[4]
	dnsMgmtPort := FreePort(t)
	ctx, cancel := startContext(t)
	defer cancel()

	dns, err := services.StartProcess(ctx, services.ProcessSpec{
		Name: "pebble-challtestsrv", Path: dnsBin, LogPath: filepath.Join(dir, "challtestsrv.log"),
		Args: []string{
			"-dnsserver", "127.0.0.1:" + strconv.Itoa(dnsPort), "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
			"-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "",
			"-management", "127.0.0.1:" + strconv.Itoa(dnsMgmtPort),
		},
		Ready: func(ctx context.Context, p *services.Process) error {
			return p.Poll(ctx, 20*time.Millisecond, func(ctx context.Context) error {
				var d net.Dialer
				c, err := d.DialContext(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(dnsPort))
				if err == nil {
					c.Close()
				}
				return err
			})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, "pebble-challtestsrv", dns.Tail, func() error { return dns.Stop(5*time.Second, syscall.SIGTERM) })

	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":                  "127.0.0.1:" + strconv.Itoa(apiPort),
		"managementListenAddress":        "127.0.0.1:" + strconv.Itoa(mgmtPort),
		"certificate":                    certFile,
		"privateKey":                     keyFile,
		"httpPort":                       httpPort,
		"tlsPort":                        tlsPort,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
	}}
	b, _ := json.Marshal(cfg)
	cfgFile := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(cfgFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	pb := &Pebble{
		Directory:        "https://127.0.0.1:" + strconv.Itoa(apiPort) + "/dir",
		CAFile:           caFile,
		HTTPPort:         httpPort,
		DNSManagementURL: "http://127.0.0.1:" + strconv.Itoa(dnsMgmtPort),
		Client:           &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}},
	}
	p, err := services.StartProcess(ctx, services.ProcessSpec{
		Name: "pebble", Path: pebble, LogPath: filepath.Join(dir, "pebble.log"),
		Args: []string{"-config", cfgFile, "-dnsserver", "127.0.0.1:" + strconv.Itoa(dnsPort)},
		Env:  []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0"},
		Ready: func(ctx context.Context, p *services.Process) error {
			return p.Poll(ctx, 50*time.Millisecond, func(ctx context.Context) error {
				code, _, err := services.Fetch(ctx, pb.Client, http.MethodGet, pb.Directory, nil, nil, 1<<20)
				if err == nil && code != http.StatusOK {
					err = fmt.Errorf("directory: %d", code)
				}
				return err
			})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, "pebble", p.Tail, func() error { return p.Stop(5*time.Second, syscall.SIGTERM) })
	return pb
}

// writeLoopbackTLS writes a CA and a certificate for 127.0.0.1 and localhost signed by it.
func writeLoopbackTLS(t testing.TB, dir string) (caFile, certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ensemble test pebble TLS CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	must(err)
	ca, err := x509.ParseCertificate(caDER)
	must(err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	leafDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca, key.Public(), caKey)
	must(err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	must(err)
	caFile, certFile, keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	must(os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644))
	must(os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}), 0o644))
	must(os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600))
	pool = x509.NewCertPool()
	pool.AddCert(ca)
	return caFile, certFile, keyFile, pool
}
