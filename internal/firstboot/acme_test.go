package firstboot_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/firstboot"
	"github.com/ensemble-jitsi/ensemble/internal/firstboot/status"
	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
)

// TestACME runs first boot in ACME mode against pebble, Let's Encrypt's test CA: apply
// answers the http-01 challenge itself (nginx is not running yet at boot), a second boot
// orders nothing, and renew, once the certificate is within the renewal window, answers
// through a webroot that a real nginx serves, then runs every reload command.
func TestACME(t *testing.T) {
	pb := testenv.StartPebble(t)
	n := newNode(t, "good/acme.yaml", func(doc string) string {
		return strings.Replace(doc, "    mode: acme\n", "    mode: acme\n    acme_directory: "+pb.Directory+"\n", 1)
	})
	o := n.options()
	o.ACMEHTTPAddress = fmt.Sprintf("127.0.0.1:%d", pb.HTTPPort)
	o.ACMECAFile = pb.CAFile
	o.ACMETimeout = time.Minute
	ctx := context.Background()

	st, err := firstboot.Apply(ctx, o)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	first := leaf(t, o.TLSCertFile)
	if err := first.VerifyHostname("meet-0003.example.org"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(first.Issuer.CommonName, "Pebble") {
		t.Errorf("issuer %q is not pebble's", first.Issuer)
	}
	if !contains(st.Changed, o.TLSCertFile) || !contains(st.Changed, o.TLSKeyFile) {
		t.Errorf("changed %v lacks the certificate", st.Changed)
	}
	if info, err := os.Stat(filepath.Join(o.ACMEDir, "account.key")); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("account key: %v, %v", info, err)
	}

	// A reboot: the certificate is fresh, so no order and no write.
	st, err = firstboot.Apply(ctx, o)
	if err != nil || len(st.Changed) != 0 {
		t.Fatalf("second apply: changed %v, %v", st.Changed, err)
	}
	// The reload commands stand for nginx's reload and coturn's try-restart; a failing one
	// does not keep the next from running.
	reloaded := filepath.Join(n.dir, "reloaded")
	o.ACMEReloadCommands = [][]string{
		{"sh", "-c", "echo reload nginx >> " + reloaded + "; exit 1"},
		{"sh", "-c", "echo try-restart coturn >> " + reloaded},
	}
	if renewed, err := firstboot.Renew(ctx, o); err != nil || renewed {
		t.Fatalf("renew of a fresh certificate: %v, %v", renewed, err)
	}
	if _, err := os.Stat(reloaded); err == nil {
		t.Fatal("reload ran without a renewal")
	}

	// 70 days later a 90-day certificate is inside the 30-day window. nginx now owns the
	// validation port and serves the webroot, as on a running node.
	webroot, err := os.MkdirTemp("", "acme-webroot")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(webroot) })
	if err := os.Chmod(webroot, 0o755); err != nil {
		t.Fatal(err)
	}
	testenv.StartNginx(t, testenv.NginxOptions{ExtraHTTPConf: fmt.Sprintf(
		"server { listen 127.0.0.1:%d; location ^~ /.well-known/acme-challenge/ { alias %s/; default_type text/plain; } }",
		pb.HTTPPort, webroot)})
	o.ACMEWebroot = webroot
	o.Now = func() time.Time { return time.Now().Add(70 * 24 * time.Hour) }
	renewed, err := firstboot.Renew(ctx, o)
	if err == nil || !strings.Contains(err.Error(), "reload nginx") || !renewed {
		t.Fatalf("renew: %v, %v; want renewed with the first reload command's failure", renewed, err)
	}
	second := leaf(t, o.TLSCertFile)
	if second.SerialNumber.Cmp(first.SerialNumber) == 0 {
		t.Fatal("renew kept the old certificate")
	}
	if b, err := os.ReadFile(reloaded); string(b) != "reload nginx\ntry-restart coturn\n" {
		t.Fatalf("reload commands ran: %q, %v; want both, in order", b, err)
	}
	left, _ := os.ReadDir(webroot)
	if len(left) != 0 {
		t.Errorf("challenge files left in the webroot: %v", left)
	}
}

func leaf(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestACMESlowDNS: the node's DNS record appears only after the server boots (the CA's DNS
// has no address for the name). First boot keeps ordering with backoff and ends with a
// certificate once the name resolves, in the same run: no reboot.
func TestACMESlowDNS(t *testing.T) {
	pb := testenv.StartPebble(t)
	setDNS := func(ip string) {
		t.Helper()
		code, body := postJSON(t, pb.DNSManagementURL+"/set-default-ipv4", fmt.Sprintf(`{"ip":%q}`, ip))
		if code != 200 {
			t.Fatalf("set-default-ipv4 %q: %d %s", ip, code, body)
		}
	}
	setDNS("") // no A record for any name: the CA cannot reach the node
	n := newNode(t, "good/acme.yaml", func(doc string) string {
		return strings.Replace(doc, "    mode: acme\n", "    mode: acme\n    acme_directory: "+pb.Directory+"\n", 1)
	})
	o := n.options()
	o.ACMEHTTPAddress = fmt.Sprintf("127.0.0.1:%d", pb.HTTPPort)
	o.ACMECAFile = pb.CAFile
	o.ACMETimeout = 30 * time.Second
	o.ACMERetryFor, o.ACMERetryMin = time.Minute, 100*time.Millisecond
	logs := &testenv.Buffer{}
	o.Logger = slog.New(slog.NewTextHandler(logs, nil))

	done := make(chan error, 1)
	go func() {
		_, err := firstboot.Apply(context.Background(), o)
		done <- err
	}()
	testenv.WaitFor(t, 30*time.Second, func() error {
		select {
		case err := <-done:
			t.Fatalf("apply returned while the name did not resolve: %v\n%s", err, logs)
		default:
		}
		if n := strings.Count(logs.String(), "ACME order failed; retrying"); n < 2 {
			return fmt.Errorf("%d failed orders so far", n)
		}
		return nil
	})
	if !strings.Contains(logs.String(), "could not resolve") {
		t.Fatalf("the orders failed for another reason than DNS:\n%s", logs)
	}
	setDNS("127.0.0.1")
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("apply: %v\n%s", err, logs)
		}
	case <-time.After(45 * time.Second):
		t.Fatalf("apply still running after the name resolved\n%s", logs)
	}
	if err := leaf(t, o.TLSCertFile).VerifyHostname("meet-0003.example.org"); err != nil {
		t.Fatal(err)
	}
	if st, err := status.Read(o.StatusFile); err != nil || !st.OK {
		t.Fatalf("verdict %+v, %v", st, err)
	}
	if !strings.Contains(logs.String(), "ACME certificate obtained after retries") {
		t.Errorf("no retry recorded in the log:\n%s", logs)
	}
}

func postJSON(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, string(b)
}
