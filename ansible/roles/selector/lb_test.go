package selectorsite

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/ensemble-jitsi/ensemble/internal/lab/services"
	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
	"github.com/ensemble-jitsi/ensemble/internal/registration"
)

// Loopback addresses standing in for the private network: the selectors' private address, the
// load balancer's (the only PROXY protocol source nginx trusts), and a well-behaved user's.
const (
	privateAddr = "127.0.0.2"
	lbAddr      = "127.0.0.3"
	userAddr    = "127.0.0.5"
)

// haproxyConf configures HAProxy as infra/scaleway configures the Scaleway load balancer: TCP,
// TLS terminated with the public certificate and re-encrypted to each selector's nginx on its
// private address (ssl_bridging), PROXY protocol v2 on user traffic and on health checks
// (health_check_send_proxy), health checks GET /-/ready. sel1 sends SNI, sel2 none.
const haproxyConf = `frontend lb
  mode tcp
  bind 127.0.0.1:%d ssl crt %s
  default_backend selectors
backend selectors
  mode tcp
  balance roundrobin
  option httpchk
  http-check send meth GET uri /-/ready ver HTTP/1.1 hdr Host %s
  http-check expect status 200
  default-server check inter 100ms fall 2 rise 1 send-proxy-v2 check-send-proxy ssl check-ssl verify none source ` + lbAddr + `
  server sel1 ` + privateAddr + `:%d sni str(%s) check-sni %s
  server sel2 ` + privateAddr + `:%d
`

// buildSelector builds the selector binary into dir.
func buildSelector(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "ensemble-selector")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/ensemble-jitsi/ensemble/cmd/ensemble-selector").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startSelector runs the selector binary as the role configures it (loopback, the Consul store,
// bound node identities) and returns its address.
func startSelector(t *testing.T, bin, name, consulAddr string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	p, err := services.StartProcess(ctx, services.ProcessSpec{
		Name: name, Path: bin, LogPath: filepath.Join(t.TempDir(), name+".log"),
		Env: []string{"CONSUL_HTTP_ADDR=" + consulAddr},
		Args: []string{"--web.listen-address=127.0.0.1:0", "--nodes.allowed-domains=example.org", "--load.source=direct",
			"--prometheus.interval=200ms", "--rooms.store=consul", "--log.level=info"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- %s log (tail):\n%s", name, p.Tail())
		}
		_ = p.Stop(5 * time.Second)
	})
	m, err := p.WaitLine(ctx, regexp.MustCompile(`msg=listening address=(\S+)`))
	if err != nil {
		t.Fatal(err)
	}
	return m[1]
}

// lbClient talks HTTPS to the load balancer from the local address from; the certificate is
// the test's own.
func lbClient(from string) *http.Client {
	return &http.Client{
		Timeout:       5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{
			DialContext:     (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}).DialContext,
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the test's own certificate
		},
	}
}

// TestLoadBalancer replays the review's N2 behind a real load balancer: HAProxy configured as the
// Scaleway one, in front of two selector hosts, each the shipped nginx site (with its load
// balancer listener) and the real selector binary. A client flooding new rooms (with a rotating
// X-Forwarded-For) is limited, a well-behaved client from another address places every room,
// the health checks never fail, /-/ready is never limited, and a PROXY header from an address
// that is not the load balancer's is refused.
func TestLoadBalancer(t *testing.T) {
	consul := testenv.StartConsul(t, testenv.ConsulOptions{})
	admin := consul.Client(t)
	for _, id := range []string{"meet1", "meet2"} {
		tg := testenv.StartTarget(64)
		t.Cleanup(tg.Close)
		host, port, _ := net.SplitHostPort(tg.Addr())
		p, _ := strconv.Atoi(port)
		if _, err := admin.Catalog().Register(&api.CatalogRegistration{Node: id, Address: host,
			Service: &api.AgentService{ID: id, Service: "jitsi", Address: host, Port: p, Meta: map[string]string{
				registration.MetaPublicURL: "https://" + id + ".example.org", registration.MetaSidecarPort: port,
				registration.MetaCapacity: "64"}},
			// The sidecar's node check: the health a bound selector trusts (docs/security.md, N1d).
			Check: &api.AgentCheck{Node: id, CheckID: registration.NodeCheckID(id), Status: api.HealthPassing},
		}, nil); err != nil {
			t.Fatal(err)
		}
	}
	cert := testenv.SelfSigned(t, t.TempDir())
	bin := buildSelector(t, t.TempDir())
	var private [2]int
	for i := range private {
		private[i] = freePort(t)
		runSite(t, map[string]any{
			"selector_listen_address": startSelector(t, bin, fmt.Sprintf("selector-%d", i+1), consul.Addr),
			"selector_lb_address":     privateAddr, "selector_lb_port": private[i],
			"selector_lb_sources": []string{lbAddr + "/32"},
		}, freePort(t), private[i], cert) // the public listener shares the port, as 443 does in production
	}
	pem := filepath.Join(t.TempDir(), "lb.pem")
	var both []byte
	for _, f := range []string{cert.CertFile, cert.KeyFile} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		both = append(both, b...)
	}
	if err := os.WriteFile(pem, both, 0o600); err != nil {
		t.Fatal(err)
	}
	lbPort := freePort(t)
	lb := testenv.StartHAProxy(t, testenv.HAProxyOptions{Config: fmt.Sprintf(haproxyConf, lbPort, pem, publicName,
		private[0], publicName, publicName, private[1])})
	lbURL := fmt.Sprintf("https://127.0.0.1:%d", lbPort)
	checks := func() map[string]map[string]string {
		rows, err := lb.Stats(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]map[string]string{}
		for _, r := range rows {
			if r["pxname"] == "selectors" && strings.HasPrefix(r["svname"], "sel") {
				out[r["svname"]] = r
			}
		}
		return out
	}
	user := lbClient(userAddr)
	testenv.WaitFor(t, 20*time.Second, func() error {
		for name, r := range checks() {
			if r["status"] != "UP" {
				return fmt.Errorf("%s is %s (%s)", name, r["status"], r["last_chk"])
			}
		}
		resp, err := user.Get(lbURL + "/warm-up")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			return fmt.Errorf("a room through the load balancer: %s", resp.Status)
		}
		return nil
	})
	before := checks()

	// The flood: 4 connections from 127.0.0.1 for at most 3 s and 4,000 requests, each a new room
	// with a new X-Forwarded-For.
	var sent, created, limited atomic.Int64
	stop := time.Now().Add(3 * time.Second)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := lbClient("127.0.0.1")
			defer c.CloseIdleConnections()
			for i := 0; i < 1000 && time.Now().Before(stop); i++ {
				req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/flood-%d-%d", lbURL, g, i), nil)
				req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i%250))
				resp, err := c.Do(req)
				if err != nil {
					continue
				}
				_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
				resp.Body.Close()
				sent.Add(1)
				switch resp.StatusCode {
				case http.StatusFound:
					created.Add(1)
				case http.StatusTooManyRequests:
					limited.Add(1)
				}
			}
		}()
	}
	placed, tried := 0, 0
	for i := 0; time.Now().Before(stop); i++ {
		tried++
		time.Sleep(200 * time.Millisecond)
		resp, err := user.Get(fmt.Sprintf("%s/meeting-%d", lbURL, i))
		if err != nil {
			t.Fatalf("the user's room %d: %v", i, err)
		}
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusFound || !regexp.MustCompile(`^https://meet[12]\.example\.org/meeting-`+strconv.Itoa(i)+`$`).MatchString(loc) {
			t.Errorf("the user's room %d during the flood: %s %q", i, resp.Status, loc)
			continue
		}
		placed++
	}
	wg.Wait()
	t.Logf("measured through HAProxy: flood sent %d requests in 3 s, %d rooms created, %d refused with 429; the user placed %d of %d",
		sent.Load(), created.Load(), limited.Load(), placed, tried)
	if tried < 5 {
		t.Errorf("the user tried only %d rooms during the flood", tried)
	}
	if sent.Load() < 100 || limited.Load() < sent.Load()/2 {
		t.Errorf("the flood sent %d requests and %d were refused: it was not limited", sent.Load(), limited.Load())
	}
	// Per selector host: nginx's burst 40 plus 10/s and the selector's burst 30 plus 1/s.
	if n := created.Load(); n > 2*(30+10) {
		t.Errorf("the flood created %d rooms, more than two selectors' room bursts", n)
	}
	// No check may get an answer other than 200 (the review saw 429) and no selector may go down.
	// A check that timed out because this shared machine was starved is logged, not failed: it
	// says nothing about the site (seen once in about 15 runs).
	after := checks()
	for name, r := range after {
		if r["status"] != "UP" || r["chkdown"] != before[name]["chkdown"] {
			t.Errorf("%s: health check status %s, down %s → %s, failed checks %s → %s during the flood", name, r["status"],
				before[name]["chkdown"], r["chkdown"], before[name]["chkfail"], r["chkfail"])
		}
	}
	for line := range strings.SplitSeq(lb.Log(), "\n") {
		if !strings.Contains(line, "Health check for server selectors/") || !strings.Contains(line, "failed") {
			continue
		}
		if strings.Contains(line, "Layer7") {
			t.Errorf("a health check failed on the answer: %s", line)
		} else {
			t.Logf("a health check failed below HTTP (machine load): %s", line)
		}
	}

	// Health checks are never limited, whoever sends them how often.
	codes := map[int]int{}
	for range 100 {
		resp, err := user.Get(lbURL + "/-/ready")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes[resp.StatusCode]++
	}
	if codes[http.StatusOK] != 100 {
		t.Errorf("100 × /-/ready through the load balancer: %v, want all 200", codes)
	}

	// The load balancer listener: a PROXY header from the load balancer's address is believed,
	// the same header from any other address is refused, and no header is a broken connection.
	direct := func(from string, proxy bool) (int, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
		conn, err := d.Dial("tcp", net.JoinHostPort(privateAddr, strconv.Itoa(private[1])))
		if err != nil {
			return 0, err
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		if proxy {
			if _, err := conn.Write(proxyV2(netip.MustParseAddrPort("203.0.113.9:40000"), netip.AddrPortFrom(netip.MustParseAddr(privateAddr), uint16(private[1])))); err != nil {
				return 0, err
			}
		}
		tc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // the test's own certificate
		if _, err := fmt.Fprintf(tc, "GET /-/ready HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", publicName); err != nil {
			return 0, err
		}
		var proto string
		var code int
		if _, err := fmt.Fscan(tc, &proto, &code); err != nil {
			return 0, err
		}
		return code, nil
	}
	if code, err := direct(lbAddr, true); code != http.StatusOK {
		t.Errorf("a PROXY header from the load balancer's address: %d %v, want 200", code, err)
	}
	if code, err := direct("127.0.0.1", true); err == nil {
		t.Errorf("a PROXY header from 127.0.0.1 (not the load balancer): answered %d, want the connection closed", code)
	}
	if code, err := direct(lbAddr, false); err == nil {
		t.Errorf("no PROXY header on the load balancer listener: answered %d, want a broken connection", code)
	}
}

// proxyV2 is a PROXY protocol version 2 header for a TCP over IPv4 connection from src to dst.
func proxyV2(src, dst netip.AddrPort) []byte {
	b := []byte("\r\n\r\n\x00\r\nQUIT\n")
	b = append(b, 0x21, 0x11, 0, 12) // version 2, PROXY; TCP over IPv4; 12 address bytes
	s, d := src.Addr().As4(), dst.Addr().As4()
	b = append(b, s[:]...)
	b = append(b, d[:]...)
	b = binary.BigEndian.AppendUint16(b, src.Port())
	return binary.BigEndian.AppendUint16(b, dst.Port())
}
