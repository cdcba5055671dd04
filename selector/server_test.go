package selector

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/hashicorp/consul/api"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
	"github.com/ensemble-jitsi/ensemble/selector/catalog"
	"github.com/ensemble-jitsi/ensemble/selector/placement"
	"github.com/ensemble-jitsi/ensemble/selector/rooms"
)

// A client that sends its headers one line at a time (slowloris) is cut off by the read-header timeout.
func TestSlowlorisClosed(t *testing.T) {
	consul := testenv.StartConsul(t, testenv.ConsulOptions{})
	opts := testOptions(t, consul)
	opts.ReadHeaderTimeout = 500 * time.Millisecond
	in := start(t, opts)

	conn, err := net.Dial("tcp", strings.TrimPrefix(in.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	begin := time.Now()
	if _, err := io.WriteString(conn, "GET /-/healthy HTTP/1.1\r\nHost: selector\r\n"); err != nil {
		t.Fatal(err)
	}
	closed := false
	for i := 0; i < 50 && !closed; i++ {
		// One more header line every 100 ms: each keeps the connection busy, none completes the request.
		if _, err := io.WriteString(conn, "X-Slow: yes\r\n"); err != nil {
			closed = true
			break
		}
		_ = conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		buf := make([]byte, 512)
		_, err := conn.Read(buf)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			continue
		}
		closed = true // EOF, reset, or the server's 408 before closing
	}
	took := time.Since(begin)
	t.Logf("measured slowloris_closed_after_seconds=%.3f (read-header timeout 0.5s)", took.Seconds())
	if !closed || took > 2*time.Second {
		t.Fatalf("slow client still connected after %v", took)
	}
}

// A body over the limit is refused with a JSON error.
func TestBodyLimit(t *testing.T) {
	s, _ := inProcess(t)
	h := s.handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/rooms", bytes.NewReader(make([]byte, 1<<20))))
	if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), `"body_too_large"`) {
		t.Fatalf("1 MiB body: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/rooms", strings.NewReader("{}")))
	if rec.Code != http.StatusCreated {
		t.Fatalf("small body: %d %s", rec.Code, rec.Body)
	}
}

// inProcess builds a selector that is never Run: its catalog is set directly, with three eligible nodes
// and no load data (placement by pending accounts), and Consul counts as just contacted.
func inProcess(t testing.TB) (*Selector, []string) {
	t.Helper()
	return inProcessWith(t, func(*Options) {})
}

// inProcessWith is inProcess with options changed by mod.
func inProcessWith(t testing.TB, mod func(*Options)) (*Selector, []string) {
	t.Helper()
	c, err := api.NewClient(&api.Config{Address: "127.0.0.1:1"}) // never called: nothing is Run
	if err != nil {
		t.Fatal(err)
	}
	opts := DefaultOptions()
	opts.Consul, opts.Logger, opts.Registry, opts.Now = c, testLoggerTB(t), prometheus.NewRegistry(), time.Now
	opts.NodesUnbound = true // the snapshots below are made up, not bound to Consul nodes
	mod(&opts)
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.contact = time.Now
	urls := []string{"https://a.example.org", "https://b.example.org:8443", "https://[::1]:4443"}
	cat := &catalog.Snapshot{Index: 1}
	for i, u := range urls {
		cat.Nodes = append(cat.Nodes, catalog.Node{ID: string(rune('a' + i)), PublicURL: u, State: placement.Eligible, Capacity: 4})
	}
	s.publish(cat)
	return s, urls
}

var roomName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// FuzzRedirect sends arbitrary paths and Host headers: every redirect must point at a registered node's
// public URL followed by a valid room name, or at this selector's own /room path.
func FuzzRedirect(f *testing.F) {
	s, urls := inProcess(f)
	h := s.handler()
	for _, seed := range [][2]string{
		{"/standup", "selector.example.org"},
		{"//evil.example", "evil.example"},
		{"/%2F%2Fevil.example", "a"},
		{"/\\evil.example", "a"},
		{"/?room=//evil.example", "evil.example"},
		{"/?room=Standup", "x"},
		{"/https:%2F%2Fevil.example", "evil.example:443"},
		{"/api/v1/rooms/x", "a"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, path, host string) {
		raw := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n"
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			return // not a request a server would hand to the handler
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code < 300 || rec.Code > 399 {
			return
		}
		loc := rec.Header().Get("Location")
		if rec.Code == http.StatusSeeOther && strings.HasPrefix(loc, "/") && roomName.MatchString(loc[1:]) {
			return // the join form's step to /room on this selector
		}
		for _, u := range urls {
			if rest, ok := strings.CutPrefix(loc, u+"/"); ok && roomName.MatchString(rest) {
				return
			}
		}
		t.Fatalf("GET %q Host %q redirected %d to %q", path, host, rec.Code, loc)
	})
}

// The exporter-toolkit web config applies on every listener: with basic auth configured, requests without
// credentials are refused.
func TestWebConfigBasicAuth(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(path, []byte("basic_auth_users:\n  ops: "+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	consul := testenv.StartConsul(t, testenv.ConsulOptions{})
	opts := testOptions(t, consul)
	opts.WebConfigFile = path
	opts.ListenAddresses = []string{"127.0.0.1:0", "127.0.0.1:0"}
	addrs := make(chan []net.Addr, 1)
	opts.OnListen = func(a []net.Addr) { addrs <- a }
	opts.Registry = prometheus.NewRegistry()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	for _, a := range <-addrs {
		url := "http://" + a.String() + "/-/healthy"
		testenv.WaitFor(t, 5*time.Second, func() error {
			resp, err := http.Get(url)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				return fmt.Errorf("%s without credentials: %s", url, resp.Status)
			}
			return nil
		})
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.SetBasicAuth("ops", "s3cret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s with credentials: %s", url, resp.Status)
		}
	}
}

// writeRoom's fast path writes exactly what encoding/json would.
func TestWriteRoomMatchesEncodingJSON(t *testing.T) {
	s, _ := inProcess(t)
	for _, node := range []string{"node-1", `we"ird`, `back\slash`, "<script>", "a&b", "ünïcode", "tab\there", ""} {
		res := rooms.Result{Room: "standup", Node: placement.Node{ID: node, URL: "https://meet.example.org:8443"}}
		rec := httptest.NewRecorder()
		s.writeRoom(rec, http.StatusOK, res)
		want, err := json.Marshal(roomBody{Room: "standup", Node: node, URL: "https://meet.example.org:8443/standup"})
		if err != nil {
			t.Fatal(err)
		}
		if got := rec.Body.String(); got != string(want)+"\n" || rec.Header().Get("Content-Type") != "application/json; charset=utf-8" {
			t.Errorf("node %q: got %q, want %q", node, got, want)
		}
	}
}

// roomOf must accept exactly what the router's /api/v1/rooms/{room} route matches, since room lookups
// skip the router.
func TestRoomOfMatchesRouter(t *testing.T) {
	s, _ := inProcess(t)
	h := s.handler()
	for _, path := range []string{"/api/v1/rooms/standup", "/api/v1/rooms/", "/api/v1/rooms", "/api/v1/rooms/a/b",
		"/api/v1/rooms//a", "/api/v1/roomsx", "/api/v1/rooms/Bad.Name", "/api/v1/rooms/%2F"} {
		for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPost} {
			req := httptest.NewRequest(method, "http://selector"+path, nil)
			direct := httptest.NewRecorder()
			h.ServeHTTP(direct, req)
			routed := httptest.NewRecorder()
			s.router().ServeHTTP(routed, httptest.NewRequest(method, "http://selector"+path, nil))
			// POST /api/v1/rooms makes a new random room each time: only its status can match.
			sameBody := direct.Body.String() == routed.Body.String() || direct.Code == http.StatusCreated
			if direct.Code != routed.Code || !sameBody {
				t.Errorf("%s %s: %d %q, the router alone %d %q", method, path, direct.Code, direct.Body, routed.Code, routed.Body)
			}
		}
	}
}
