package selector

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/promslog"

	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
	"github.com/ensemble-jitsi/ensemble/internal/registration"
)

// ACL policies of the tests, as docs/security.md documents them.
const (
	selectorRules = `service "jitsi" { policy = "read" }
node_prefix "" { policy = "read" }
key_prefix "ensemble/rooms/" { policy = "write" }`
	sidecarRules = `service "jitsi" { policy = "write" }
node_prefix "" { policy = "read" }`
)

// aclClient returns a client of consul that acts with token.
func aclClient(t *testing.T, consul *testenv.Consul, token string) *api.Client {
	t.Helper()
	c, err := api.NewClient(&api.Config{Address: consul.Addr, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRogueRegistrations replays the review's H2 against Consul with ACLs on (default deny): a
// rogue node registered with the shared sidecar token and a public_url outside
// --nodes.allowed-domains gets no meeting, and a second registration of an existing service ID
// from another Consul node takes neither new rooms nor the rooms bound to the real node: both
// copies are left out, a metric counts the conflict and a log line names both.
func TestRogueRegistrations(t *testing.T) {
	consul := testenv.StartConsul(t, testenv.ConsulOptions{ACLDefaultDeny: true})
	admin := consul.Client(t)
	nodes := addNodes(t, admin, 2)
	opts := testOptions(t, consul)
	opts.Consul = aclClient(t, consul, testenv.ACLToken(t, admin, "selector", selectorRules))
	opts.NodesAllowedDomains = []string{"example.org"}
	var logs testenv.Buffer
	opts.Logger = promslog.New(&promslog.Config{Writer: &logs})
	in := start(t, opts)
	in.waitEligible(t, nodes)
	if got := in.room(t, "standup"); got.Node == "" {
		t.Fatal("standup not placed")
	}
	bound := in.room(t, "standup").Node

	// (a) A rogue node with the sidecar token: idle, and pointing users elsewhere.
	sidecar := aclClient(t, consul, testenv.ACLToken(t, admin, "sidecar", sidecarRules))
	addNode(t, sidecar, "rogue", "https://attacker.example", 64)
	testenv.WaitFor(t, 10*time.Second, func() error {
		if v := in.metric(t, "ensemble_selector_catalog_ignored_instances_total", nil); v < 1 {
			return fmt.Errorf("ignored instances = %v", v)
		}
		return nil
	})
	for i := range 40 {
		if b := in.room(t, fmt.Sprintf("rogue-test-%d", i)); strings.Contains(b.URL, "attacker") || b.Node == "rogue" {
			t.Fatalf("room %d placed on %s (%s)", i, b.Node, b.URL)
		}
	}
	if !strings.Contains(logs.String(), `id=rogue`) || !strings.Contains(logs.String(), "not under --nodes.allowed-domains") {
		t.Errorf("no log line about the rogue node:\n%s", logs.String())
	}

	// (b) A duplicate of the bound node's ID from another Consul node, as a compromised node's
	// own agent would register it, with a URL inside the allowed domain.
	evilURL := "https://" + bound + "-evil.example.org"
	if _, err := admin.Catalog().Register(&api.CatalogRegistration{
		Node: "aaa-evil", Address: "127.0.0.1",
		Service: &api.AgentService{ID: bound, Service: "jitsi", Port: 1, Meta: map[string]string{
			registration.MetaPublicURL: evilURL, registration.MetaSidecarPort: "1",
		}},
	}, nil); err != nil {
		t.Fatal(err)
	}
	in.waitNodes(t, 10*time.Second, map[string]string{bound: "absent"})
	if v := in.metric(t, "ensemble_selector_catalog_conflicts", nil); v != 1 {
		t.Errorf("ensemble_selector_catalog_conflicts = %v, want 1", v)
	}
	for _, room := range []string{"standup", "probe-room-1"} {
		b := in.room(t, room)
		if b.Node == bound || strings.Contains(b.URL, "evil") {
			t.Errorf("room %s went to %s (%s) during the conflict", room, b.Node, b.URL)
		}
	}
	line := ""
	for l := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(l, "several Consul nodes") {
			line = l
		}
	}
	if !strings.Contains(line, `\"aaa-evil\"`) || !strings.Contains(line, evilURL) || !strings.Contains(line, "https://"+bound+".example.org") {
		t.Errorf("the conflict log line does not name both registrations: %q", line)
	}

	// The duplicate gone, the real node is back.
	if _, err := admin.Catalog().Deregister(&api.CatalogDeregistration{Node: "aaa-evil"}, nil); err != nil {
		t.Fatal(err)
	}
	in.waitNodes(t, 10*time.Second, map[string]string{bound: "eligible"})
	if v := in.metric(t, "ensemble_selector_catalog_conflicts", nil); v != 0 {
		t.Errorf("ensemble_selector_catalog_conflicts = %v after the duplicate left, want 0", v)
	}
	resp, err := in.get("/api/v1/nodes", nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/api/v1/nodes: %v", err)
	}
}

// TestAllowedDomainsFlagValidated: a malformed allowlist entry is refused at start.
func TestAllowedDomainsFlagValidated(t *testing.T) {
	consul := testenv.StartConsul(t, testenv.ConsulOptions{})
	opts := testOptions(t, consul)
	for _, bad := range []string{"exa mple.org", "exämple.org", "a..b"} {
		o := opts
		o.NodesAllowedDomains = []string{bad}
		o.Registry = prometheus.NewRegistry()
		if _, err := New(o); err == nil || !strings.Contains(err.Error(), "nodes.allowed-domains") {
			t.Errorf("%q: New = %v, want an allowed-domains error", bad, err)
		}
	}
}

// viaProxy sends GET path as if nginx forwarded it for client (X-Forwarded-For).
func (in *instance) viaProxy(t *testing.T, c *http.Client, path, client string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, in.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Forwarded-For", client)
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	return resp, nil
}

// TestFlood replays the review's M1: an attacker loop creating rooms at full speed (bounded to
// 3 s and 20,000 requests) while a well-behaved client creates a room every 100 ms through the
// same proxy. The attacker gets its burst and then 429s with Retry-After; the well-behaved
// client is placed every time, on eligible nodes, and the fleet never looks saturated.
func TestFlood(t *testing.T) {
	consul := testenv.StartConsul(t, testenv.ConsulOptions{ACLDefaultDeny: true})
	admin := consul.Client(t)
	// 64-CPU nodes: the ~60 legitimate rooms of the test (burst, rate and the user's) must not
	// saturate them through the pending correction; the unlimited flood would (4,000 rooms).
	var nodes []*node
	for i := range 3 {
		id := fmt.Sprintf("node-%d", i)
		nodes = append(nodes, addNode(t, admin, id, "https://"+id+".example.org", 64))
	}
	opts := testOptions(t, consul)
	opts.Consul = aclClient(t, consul, testenv.ACLToken(t, admin, "selector", selectorRules))
	opts.LimitsRoomRate, opts.LimitsRoomBurst = 5, 20
	in := start(t, opts)
	in.waitEligible(t, nodes)

	const attacker, user = "203.0.113.66", "198.51.100.7"
	stop := make(chan struct{})
	var (
		attacks, created, limited atomic.Int64
		badRetry                  atomic.Value
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c := &http.Client{Timeout: 5 * time.Second, CheckRedirect: client.CheckRedirect,
			Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
		defer c.CloseIdleConnections()
		deadline := time.Now().Add(3 * time.Second)
		for i := 0; i < 20000 && time.Now().Before(deadline); i++ {
			select {
			case <-stop:
				return
			default:
			}
			resp, err := in.viaProxy(t, c, fmt.Sprintf("/flood-%d", i), attacker)
			if err != nil {
				continue
			}
			attacks.Add(1)
			switch resp.StatusCode {
			case http.StatusFound:
				created.Add(1)
			case http.StatusTooManyRequests:
				limited.Add(1)
				if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 {
					badRetry.Store(resp.Header.Get("Retry-After"))
				}
			}
		}
	}()
	placed := 0
	for i := 0; ; i++ {
		select {
		case <-done:
		case <-time.After(100 * time.Millisecond):
			resp, err := in.viaProxy(t, client, fmt.Sprintf("/meeting-%d", i), user)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusFound || !strings.HasSuffix(resp.Header.Get("Location"), fmt.Sprintf(".example.org/meeting-%d", i)) {
				t.Errorf("the user's room %d: %s %s", i, resp.Status, resp.Header.Get("Location"))
			}
			placed++
			continue
		}
		break
	}
	close(stop)
	t.Logf("measured flood: attacker sent %d requests in 3s, %d created, %d refused with 429; the user placed %d rooms",
		attacks.Load(), created.Load(), limited.Load(), placed)
	if placed < 10 {
		t.Errorf("the user placed only %d rooms during the flood", placed)
	}
	// Burst 20 plus 5/s for 3 s, with slack for a loaded machine.
	if n := created.Load(); n > 20+5*4 {
		t.Errorf("the attacker created %d rooms, want at most the burst plus the rate", n)
	}
	if limited.Load() == 0 || attacks.Load() < 100 {
		t.Errorf("the attacker sent %d requests, %d refused: the flood did not happen", attacks.Load(), limited.Load())
	}
	if v := badRetry.Load(); v != nil {
		t.Errorf("a 429 carried Retry-After %q", v)
	}
	if v := in.metric(t, "ensemble_selector_saturated", nil); v != 0 {
		t.Errorf("ensemble_selector_saturated = %v after the flood", v)
	}
	if v := in.metric(t, "ensemble_selector_decisions_total", map[string]string{"outcome": "rate_limited"}); v != float64(limited.Load()) {
		t.Errorf("rate_limited decisions = %v, want %d", v, limited.Load())
	}
	// Joining an existing room is never limited, even for the attacker's address.
	for range 50 {
		resp, err := in.viaProxy(t, client, "/flood-0", attacker)
		if err != nil || resp.StatusCode != http.StatusFound {
			t.Fatalf("joining an existing room from the limited address: %v %v", resp, err)
		}
	}
}

// TestSpoofedForwardedFor: X-Forwarded-For from a peer that is not a trusted proxy is ignored,
// so rotating it does not reset the bucket.
func TestSpoofedForwardedFor(t *testing.T) {
	consul := testenv.StartConsul(t, testenv.ConsulOptions{})
	nodes := addNodes(t, consul.Client(t), 1)
	opts := testOptions(t, consul)
	opts.LimitsRoomRate, opts.LimitsRoomBurst = 0.1, 5
	opts.LimitsTrustedProxies = []string{"192.0.2.1/32"}
	in := start(t, opts)
	in.waitEligible(t, nodes)
	codes := map[int]int{}
	for i := range 20 {
		resp, err := in.viaProxy(t, client, fmt.Sprintf("/spoof-%d", i), fmt.Sprintf("198.51.100.%d", i))
		if err != nil {
			t.Fatal(err)
		}
		codes[resp.StatusCode]++
	}
	if codes[http.StatusFound] != 5 || codes[http.StatusTooManyRequests] != 15 {
		t.Errorf("answers %v, want 5 redirects then 429s", codes)
	}
}

// TestCapacityCaps: the live-room cap and the per-node pending cap refuse new rooms with 503
// and Retry-After, and existing rooms keep answering.
func TestCapacityCaps(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Options)
	}{
		{"max-rooms", func(o *Options) { o.LimitsMaxRooms = 5 }},
		{"max-pending", func(o *Options) { o.LimitsMaxPending = 5 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := inProcessWith(t, func(o *Options) { tc.mod(o); o.Placement.Window = time.Hour })
			h := s.handler()
			get := func(path string) *http.Response {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
				return rec.Result()
			}
			// Three nodes take 5 pending each before all are full; 5 live rooms fill the other cap.
			refused := 0
			for i := range 20 {
				if r := get(fmt.Sprintf("/cap-%d", i)); r.StatusCode == http.StatusServiceUnavailable {
					refused++
					if r.Header.Get("Retry-After") == "" {
						t.Error("a 503 without Retry-After")
					}
				}
			}
			if refused == 0 {
				t.Fatal("no new room was refused")
			}
			if r := get("/cap-0"); r.StatusCode != http.StatusFound {
				t.Errorf("an existing room answered %s", r.Status)
			}
		})
	}
}

// TestPerNodeTokens checks the token shape docs/security.md recommends against Consul with ACLs
// on: a node identity plus a service identity for jitsi lets a node register the service on its
// own node name, but not on another node (the duplicate of H2b needs the shared token or that
// node's own), and lets it read no room bindings.
func TestPerNodeTokens(t *testing.T) {
	consul := testenv.StartConsul(t, testenv.ConsulOptions{ACLDefaultDeny: true})
	admin := consul.Client(t)
	tok, _, err := admin.ACL().TokenCreate(&api.ACLToken{
		Description:       "meet-a sidecar",
		NodeIdentities:    []*api.ACLNodeIdentity{{NodeName: "meet-a", Datacenter: "dc1"}},
		ServiceIdentities: []*api.ACLServiceIdentity{{ServiceName: "jitsi"}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := aclClient(t, consul, tok.SecretID)
	reg := func(node string) error {
		_, err := c.Catalog().Register(&api.CatalogRegistration{
			Node: node, Address: "127.0.0.1",
			Service: &api.AgentService{ID: "meet-a", Service: "jitsi", Port: 9105, Meta: map[string]string{
				registration.MetaPublicURL: "https://meet-a.example.org"}},
		}, nil)
		return err
	}
	if err := reg("meet-a"); err != nil {
		t.Errorf("registering on its own node: %v", err)
	}
	for _, other := range []string{"aaa-evil", "meet-b"} {
		if err := reg(other); err == nil || !strings.Contains(err.Error(), "Permission denied") {
			t.Errorf("registering on node %s = %v, want permission denied", other, err)
		}
	}
	if _, _, err := c.KV().Get("ensemble/rooms/standup", nil); err == nil {
		// A missing key with no read right answers 403, not an empty result.
		t.Error("a sidecar token could read the room bindings")
	}
}

// TestLimiterTableFull replays the review's N3 through the handler: with --limits.clients=32,
// 200 clients behind the trusted proxy each create a room; none is refused for the table being
// full, and ensemble_selector_limiter_table_full_total counts the replacements.
func TestLimiterTableFull(t *testing.T) {
	s, _ := inProcessWith(t, func(o *Options) { o.LimitsClients = 32; o.Placement.Window = time.Hour })
	h := s.handler()
	codes := map[int]int{}
	for i := range 200 {
		req := httptest.NewRequest(http.MethodGet, fmt.Sprintf("/full-%d", i), nil)
		req.RemoteAddr = "127.0.0.1:40000"
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		codes[rec.Code]++
	}
	if codes[http.StatusFound] != 200 {
		t.Errorf("answers %v, want 200 redirects", codes)
	}
	mfs, err := s.opts.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var full float64
	for _, mf := range mfs {
		if mf.GetName() == "ensemble_selector_limiter_table_full_total" {
			full = mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	if full < 100 {
		t.Errorf("ensemble_selector_limiter_table_full_total = %v, want at least 100", full)
	}
}

// TestMaxRoomsConsulStore replays the review's N4: with the Consul store the live-room count
// comes from a sweep at most a minute old, so a burst of new rooms overshot --limits.max-rooms
// until the next one. Creations since the last sweep now count: 40 new rooms in a row against
// a cap of 20 create exactly 20 bindings, and the rest are refused with 503.
func TestMaxRoomsConsulStore(t *testing.T) {
	consul := testenv.StartConsul(t, testenv.ConsulOptions{})
	nodes := addNodes(t, consul.Client(t), 2)
	opts := testOptions(t, consul)
	opts.RoomsStore = StoreConsul
	opts.RoomsPrefix = "ensemble/rooms/"
	opts.LimitsMaxRooms = 20
	in := start(t, opts)
	in.waitEligible(t, nodes)
	codes := map[int]int{}
	for i := range 40 {
		resp, err := client.Get(in.url + fmt.Sprintf("/cap-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes[resp.StatusCode]++
	}
	keys, _, err := consul.Client(t).KV().Keys(opts.RoomsPrefix, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if codes[http.StatusFound] != 20 || codes[http.StatusServiceUnavailable] != 20 || len(keys) != 20 {
		t.Errorf("answers %v and %d bindings, want 20 redirects, 20 × 503 and 20 bindings", codes, len(keys))
	}
}
