package selector

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
	"github.com/ensemble-jitsi/ensemble/selector/placement"
)

func TestRoomAPI(t *testing.T) {
	consul := testenv.StartConsul(t, testenv.ConsulOptions{})
	nodes := addNodes(t, consul.Client(t), 3)
	in := start(t, testOptions(t, consul))
	in.waitEligible(t, nodes)
	urls := map[string]string{}
	for _, n := range nodes {
		urls[n.id] = n.url
	}

	b := in.room(t, "Weekly-Sync")
	if b.Room != "weekly-sync" || urls[b.Node] == "" || b.URL != urls[b.Node]+"/weekly-sync" {
		t.Fatalf("GET room = %+v", b)
	}
	if again := in.room(t, "weekly-sync"); again != b {
		t.Fatalf("same room, different answer: %+v vs %+v", again, b)
	}

	// The redirect goes to the same place.
	resp, err := in.get("/WEEKLY-sync", nil)
	if err != nil || resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != b.URL {
		t.Fatalf("GET /WEEKLY-sync = %v, %v, want 302 to %s", resp.Status, err, b.URL)
	}
	// The join form without JavaScript: GET /?room= -> 303 /name.
	resp, err = in.get("/?room=Weekly-Sync", nil)
	if err != nil || resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/weekly-sync" {
		t.Fatalf("GET /?room= = %v, %v", resp.Status, err)
	}

	n := in.newRoom(t)
	if n.Room == "" || urls[n.Node] == "" || n.URL != urls[n.Node]+"/"+n.Room {
		t.Fatalf("POST rooms = %+v", n)
	}
	if again := in.room(t, n.Room); again != n {
		t.Fatalf("new room not bound: %+v vs %+v", again, n)
	}

	fleet := in.nodes(t)
	if fleet.Policy != placement.DefaultPolicy || !fleet.Fresh || len(fleet.Nodes) != 3 || fleet.CatalogIndex == 0 {
		t.Fatalf("nodes = %+v", fleet)
	}
	if fleet.RoomsAgeSeconds != nil {
		t.Errorf("rooms_age_seconds = %v with the memory store, whose counts are live", *fleet.RoomsAgeSeconds)
	}
	pending, bound := 0, map[string]int{}
	for _, nb := range fleet.Nodes {
		pending += nb.Pending
		if nb.URL != urls[nb.ID] || nb.Capacity != 4 || nb.Region != "test" || nb.Rooms == nil {
			t.Fatalf("node %+v", nb)
		}
		bound[nb.ID] = *nb.Rooms
	}
	if pending != 2 {
		t.Fatalf("pending rooms %d, want 2 (two new rooms)", pending)
	}
	// The memory store counts its bindings per node: weekly-sync and the new room.
	want := map[string]int{}
	for _, id := range []string{nodes[0].id, nodes[1].id, nodes[2].id} {
		want[id] = 0
	}
	want[b.Node]++
	want[n.Node]++
	if !maps.Equal(bound, want) {
		t.Fatalf("rooms per node %v, want %v", bound, want)
	}

	// The page, its files and security headers.
	for path, ctype := range map[string]string{"/": "text/html", "/static/app.js": "text/javascript", "/static/style.css": "text/css"} {
		resp, err := in.get(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
			t.Fatalf("%s: %v", path, resp.Header)
		}
	}
	if resp, err := in.get("/static/index.html", nil); err == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/static/index.html served")
	}

	// HTTP service discovery for Prometheus, with Consul SD's labels.
	var sd []sdGroup
	if _, err := in.get("/api/v1/sd", &sd); err != nil {
		t.Fatal(err)
	}
	if len(sd) != 3 || sd[0].Labels["__meta_consul_service_id"] != "node-0" || sd[0].Targets[0] != nodes[0].target.Addr() {
		t.Fatalf("sd = %+v", sd)
	}

	// Errors have one shape.
	resp, err = in.do(http.MethodDelete, "/api/v1/rooms/x", nil)
	checkError(t, resp, err, http.StatusMethodNotAllowed, "method_not_allowed")
	resp, err = in.get("/api/v1/nope", nil)
	checkError(t, resp, err, http.StatusNotFound, "not_found")

	if in.metric(t, "ensemble_selector_decisions_total", map[string]string{"policy": placement.DefaultPolicy, "outcome": "created"}) != 2 {
		t.Fatal("decisions_total{outcome=created} is not 2")
	}
	testenv.GatherAndLint(t, in.reg)
}

func checkError(t *testing.T, resp *http.Response, err error, status int, code string) {
	t.Helper()
	if resp == nil || resp.StatusCode != status {
		t.Fatalf("want status %d, got %v (%v)", status, resp, err)
	}
	var b errorBody
	msg := err.Error()
	if i := strings.Index(msg, "{"); i < 0 || json.Unmarshal([]byte(msg[i:]), &b) != nil || b.Error.Code != code || b.Error.Message == "" {
		t.Fatalf("error body %q, want code %s", msg, code)
	}
}

func TestBadRoomNames(t *testing.T) {
	consul := testenv.StartConsul(t, testenv.ConsulOptions{})
	addNodes(t, consul.Client(t), 2)
	in := start(t, testOptions(t, consul))
	in.waitNodes(t, 10*time.Second, map[string]string{"node-0": "eligible", "node-1": "eligible"})
	for _, line := range testenv.Lines(t, "testdata/room_names.txt") {
		fields := strings.Split(line, "\t")
		seg, status := fields[0], fields[1]
		t.Run(seg, func(t *testing.T) {
			var b roomBody
			resp, err := in.get("/api/v1/rooms/"+seg, &b)
			if status == "200" {
				if err != nil || b.Room != fields[2] {
					t.Fatalf("got %+v, %v; want room %s", b, err, fields[2])
				}
				return
			}
			if status == "404" { // an escaped slash makes two path segments: no such route
				checkError(t, resp, err, http.StatusNotFound, "not_found")
			} else {
				checkError(t, resp, err, http.StatusBadRequest, "invalid_room_name")
			}
			// The redirect route refuses the same names and never redirects.
			resp, err = in.get("/"+seg, nil)
			if resp == nil || resp.StatusCode < 400 {
				t.Fatalf("GET /%s = %v, %v; want an error", seg, resp, err)
			}
			resp, err = in.get("/?room="+url.QueryEscape(must(url.PathUnescape(seg))), nil)
			checkError(t, resp, err, http.StatusBadRequest, "invalid_room_name")
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Two replicas sharing Consul give the same node for the same room, even when they race on new rooms.
func TestSameRoomAcrossReplicas(t *testing.T) {
	consul := testenv.StartConsul(t, testenv.ConsulOptions{})
	nodes := addNodes(t, consul.Client(t), 5)
	opts := testOptions(t, consul)
	opts.RoomsStore = StoreConsul
	a, b := start(t, opts), start(t, opts)
	a.waitEligible(t, nodes)
	b.waitEligible(t, nodes)

	const rooms = 30
	var wg sync.WaitGroup
	answers := make([][2]roomBody, rooms)
	for i := range rooms {
		for r, in := range []*instance{a, b} {
			wg.Go(func() {
				var body roomBody
				if _, err := in.get(fmt.Sprintf("/api/v1/rooms/race-%d", i), &body); err != nil {
					t.Error(err)
				}
				answers[i][r] = body
			})
		}
	}
	wg.Wait()
	used := map[string]bool{}
	for i, ans := range answers {
		if ans[0] != ans[1] || ans[0].Node == "" {
			t.Fatalf("room race-%d: replica a says %+v, b says %+v", i, ans[0], ans[1])
		}
		used[ans[0].Node] = true
	}
	if len(used) < 3 {
		t.Fatalf("30 rooms went to only %d nodes", len(used))
	}
	t.Logf("30 racing rooms agreed on both replicas, spread over %d nodes", len(used))
	// Later lookups on either replica keep the binding.
	for i := range rooms {
		if got := b.room(t, fmt.Sprintf("race-%d", i)); got != answers[i][0] {
			t.Fatalf("room race-%d moved: %+v vs %+v", i, got, answers[i][0])
		}
	}
	// The Consul store's counts come from the sweep, which ran at start: the answer says how old they are.
	if age := a.nodes(t).RoomsAgeSeconds; age == nil || *age < 0 || *age > 60 {
		t.Errorf("rooms_age_seconds = %v, want the age of the start's sweep", age)
	}
}

// Without a binding store, bounded-hash gives every replica the same answer for a room.
func TestBoundedHashWithoutStore(t *testing.T) {
	consul := testenv.StartConsul(t, testenv.ConsulOptions{})
	nodes := addNodes(t, consul.Client(t), 4)
	opts := testOptions(t, consul)
	opts.RoomsStore, opts.Policy = StoreNone, "bounded-hash"
	a, b := start(t, opts), start(t, opts)
	a.waitEligible(t, nodes)
	b.waitEligible(t, nodes)
	used := map[string]bool{}
	for i := range 40 {
		room := fmt.Sprintf("hashed-%d", i)
		ra, rb := a.room(t, room), b.room(t, room)
		if ra != rb {
			t.Fatalf("room %s: %+v vs %+v", room, ra, rb)
		}
		used[ra.Node] = true
	}
	if len(used) < 3 {
		t.Fatalf("40 rooms hashed to only %d of 4 nodes", len(used))
	}
}
