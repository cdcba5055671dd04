package jvbemu

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// member is one key of a JSON object with its raw value.
type member struct {
	key  string
	kind string // "int", "float", "bool", "string"
	raw  string
}

// members lists an object's keys in document order with the JSON kind of
// each value, telling 0 from 0.0 as the bridge's Long and Double do.
func members(t *testing.T, body []byte) []member {
	t.Helper()
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, body)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		key := tok.(string)
		if _, err := dec.Token(); err != nil { // a scalar: every stats value is one
			t.Fatal(err)
		}
		v := string(raw[key])
		kind := "int"
		switch {
		case v == "true" || v == "false":
			kind = "bool"
		case strings.HasPrefix(v, `"`):
			kind = "string"
		case strings.ContainsAny(v, ".eE"):
			kind = "float"
		}
		out = append(out, member{key, kind, v})
	}
	if len(out) != len(raw) {
		t.Fatalf("duplicate keys: %d members, %d distinct", len(out), len(raw))
	}
	return out
}

func fixedClock(s string) func() time.Time {
	ts, err := time.Parse(timestampLayout, s)
	if err != nil {
		panic(err)
	}
	return func() time.Time { return ts }
}

// sampleEmulator is set to the state of the sample payload in
// jitsi-formats.md §8: conferences of 6, 4 and 2, release and region set.
func sampleEmulator() *Emulator {
	e := New(Options{Release: "9823", Region: "eu-central-1", Clock: fixedClock("2026-11-25 10:15:42.118")})
	for _, n := range []int{6, 4, 2} {
		e.StartConference(n)
	}
	e.SetStress(0.0873)
	return e
}

func getStats(t *testing.T, e *Emulator) []byte {
	t.Helper()
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/colibri/stats", nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("stats: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	return rec.Body.Bytes()
}

// TestStatsMatchesSample compares the emulator with the bridge's sample
// payload: same keys in the same order with the same JSON types, and the
// same values wherever they follow from the sample's state.
func TestStatsMatchesSample(t *testing.T) {
	sample, err := os.ReadFile("testdata/colibri-stats-sample.json")
	if err != nil {
		t.Fatal(err)
	}
	want := members(t, sample)
	sameValue := []string{
		"incoming_loss", "outgoing_loss", "overall_loss", "endpoints_with_high_outgoing_loss",
		"tcc_unmatched_feedback", "local_active_endpoints", "rtt_aggregate", "num_eps_oversending",
		"octo_conferences", "inactive_conferences", "p2p_conferences", "endpoints", "participants",
		"receive_only_endpoints", "inactive_endpoints", "octo_endpoints", "endpoints_sending_audio",
		"endpoints_sending_video", "largest_conference", "octo_receive_bitrate", "octo_receive_packet_rate",
		"octo_send_bitrate", "octo_send_packet_rate", "endpoints_with_suspended_sources", "total_visitors",
		"total_relays", "stress_level", "conferences", "visitors", "local_endpoints",
		"total_data_channel_messages_received", "total_data_channel_messages_sent",
		"average_participant_stress", "threads", "graceful_shutdown", "shutting_down", "drain",
		"current_timestamp", "muc_clients_configured", "muc_clients_connected", "mucs_configured",
		"mucs_joined", "healthy", "version", "release", "region",
	}
	for _, tc := range []struct {
		name  string
		emu   *Emulator
		value bool
	}{
		{"sample state", sampleEmulator(), true},
		// Idle, every Double is 0.0 and must still be a float.
		{"idle", New(Options{Release: "1", Region: "r"}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := members(t, getStats(t, tc.emu))
			if len(got) != len(want) {
				t.Fatalf("%d keys, sample has %d", len(got), len(want))
			}
			for i := range want {
				if got[i].key != want[i].key || got[i].kind != want[i].kind {
					t.Errorf("member %d: got %s (%s), sample %s (%s)", i, got[i].key, got[i].kind, want[i].key, want[i].kind)
				}
				if tc.value && slices.Contains(sameValue, want[i].key) && got[i].raw != want[i].raw {
					t.Errorf("%s = %s, sample %s", want[i].key, got[i].raw, want[i].raw)
				}
			}
		})
	}
}

func TestStatsOptionalFields(t *testing.T) {
	keys := func(e *Emulator) []string {
		var ks []string
		for _, m := range members(t, getStats(t, e)) {
			ks = append(ks, m.key)
		}
		return ks
	}
	plain := keys(New(Options{}))
	for _, k := range []string{"relay_id", "release", "region"} {
		if slices.Contains(plain, k) {
			t.Errorf("%s present without configuration", k)
		}
	}
	relay := keys(New(Options{RelayID: "10.0.0.5:4096"}))
	i := slices.Index(relay, "relay_id")
	if i < 0 || relay[i-1] != "current_timestamp" || relay[i+1] != "muc_clients_configured" {
		t.Fatalf("relay_id misplaced: %v", relay)
	}
}

func TestJavaDouble(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{0, "0.0"}, {1, "1.0"}, {0.0873, "0.0873"}, {38.25, "38.25"}, {0.001, "0.001"},
		{1e-4, "1.0E-4"}, {0.00012345, "1.2345E-4"}, {1e7, "1.0E7"}, {12345678.9, "1.23456789E7"},
		{9999999, "9999999.0"}, {-2.5, "-2.5"},
	} {
		if got := javaDouble(tc.in); got != tc.want {
			t.Errorf("javaDouble(%v) = %s, want %s", tc.in, got, tc.want)
		}
		if !json.Valid([]byte(javaDouble(tc.in))) {
			t.Errorf("javaDouble(%v) is not JSON", tc.in)
		}
	}
}

// statsMap decodes the stats into numbers and other values.
func statsMap(t *testing.T, e *Emulator) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(getStats(t, e), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDerivedNumbersConsistent(t *testing.T) {
	for _, sizes := range [][]int{{}, {1}, {2}, {3}, {6, 4, 2}, {50, 3, 3, 1}, {200}} {
		t.Run(fmt.Sprint(sizes), func(t *testing.T) {
			e := New(Options{})
			sum, largest := 0, 0
			for _, n := range sizes {
				e.StartConference(n)
				sum += n
				largest = max(largest, n)
			}
			m := statsMap(t, e)
			num := func(k string) float64 { return m[k].(float64) }
			if num("endpoints") != float64(sum) || num("participants") != float64(sum) || num("local_endpoints") != float64(sum) {
				t.Errorf("endpoints %v participants %v local %v, want %d", m["endpoints"], m["participants"], m["local_endpoints"], sum)
			}
			if num("conferences") != float64(len(sizes)) || num("largest_conference") != float64(largest) {
				t.Errorf("conferences %v largest %v", m["conferences"], m["largest_conference"])
			}
			if num("local_active_endpoints")+num("inactive_endpoints") != float64(sum) {
				t.Errorf("active %v + inactive %v != %d", m["local_active_endpoints"], m["inactive_endpoints"], sum)
			}
			pps := num("packet_rate_download") + num("packet_rate_upload")
			if got, want := num("stress_level"), pps/loadThresholdPPS; got != want {
				t.Errorf("stress %v, want %v from %v pps", got, want, pps)
			}
			active := num("local_active_endpoints")
			down, up := num("bit_rate_download"), num("bit_rate_upload")
			if (active == 0) != (down == 0) || (active == 0) != (up == 0) {
				t.Errorf("bitrates %v/%v with %v active endpoints", down, up, active)
			}
			// A sender's upstream is at most its simulcast layers plus audio.
			if down > active*(videoSendKbps+audioKbps) {
				t.Errorf("download %v kbps for %v endpoints", down, active)
			}
			if got := num("threads"); got != float64(baseThreads+threadsPerEndpoint*sum) {
				t.Errorf("threads %v", got)
			}
			if s := e.Stats(); s.Endpoints != sum || len(s.Conferences) != len(sizes) {
				t.Errorf("Stats() = %+v", s)
			}
		})
	}
}

func TestStressOverride(t *testing.T) {
	e := New(Options{})
	e.StartConference(10)
	computed := statsMap(t, e)["stress_level"].(float64)
	e.SetStress(0.95)
	if got := statsMap(t, e)["stress_level"]; got != 0.95 {
		t.Fatalf("override: %v", got)
	}
	e.SetStress(-1)
	if got := statsMap(t, e)["stress_level"]; got != computed || computed <= 0 {
		t.Fatalf("back to computed: %v, want %v", got, computed)
	}
}

// TestCountersGrowWithClock drives the clock by hand: counters grow with
// the load and time, never go back, and conferences are counted.
func TestCountersGrowWithClock(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	e := New(Options{Clock: func() time.Time { return now }})
	id := e.StartConference(5)
	e.StartConference(3)
	counters := []string{"total_bytes_received", "total_bytes_sent", "total_packets_received", "total_packets_sent",
		"total_video_stream_milliseconds_received", "total_colibri_web_socket_messages_received"}
	prev := statsMap(t, e)
	for _, k := range counters {
		if prev[k].(float64) != 0 {
			t.Fatalf("%s = %v before any time passed", k, prev[k])
		}
	}
	now = now.Add(10 * time.Second)
	cur := statsMap(t, e)
	down := cur["bit_rate_download"].(float64)
	if got, want := cur["total_bytes_received"].(float64), down*1000/8*10; got != want {
		t.Errorf("total_bytes_received %v after 10 s at %v kbps, want %v", got, down, want)
	}
	for _, k := range counters {
		if cur[k].(float64) <= prev[k].(float64) {
			t.Errorf("%s did not grow: %v -> %v", k, prev[k], cur[k])
		}
	}
	now = now.Add(-time.Hour) // a clock step back must not lower anything
	back := statsMap(t, e)
	for _, k := range counters {
		if back[k].(float64) < cur[k].(float64) {
			t.Errorf("%s went back: %v -> %v", k, cur[k], back[k])
		}
	}
	now = now.Add(time.Hour + 20*time.Second)
	if !e.SetParticipants(id, 7) || !e.EndConference(id) || e.EndConference(id) {
		t.Fatal("conference id not handled")
	}
	m := statsMap(t, e)
	for k, want := range map[string]float64{
		"total_conferences_created": 2, "total_conferences_completed": 1, "total_participants": 10,
		"total_conference_seconds": 30, "endpoints": 3,
	} {
		if m[k] != want {
			t.Errorf("%s = %v, want %v", k, m[k], want)
		}
	}
}

func TestHealthAndVersion(t *testing.T) {
	e := New(Options{Version: "2.3.1-gabc"})
	do := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}
	h := do("/about/health")
	if h.Code != 200 || h.Body.Len() != 0 || h.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("healthy: %d %q %q", h.Code, h.Header().Get("Content-Type"), h.Body)
	}
	e.SetHealth(503, "Address discovery through STUN failed")
	h = do("/about/health")
	if h.Code != 503 || h.Body.String() != "Address discovery through STUN failed" || h.Header().Get("Content-Type") != "text/plain" {
		t.Fatalf("unhealthy: %d %q %q", h.Code, h.Header().Get("Content-Type"), h.Body)
	}
	if statsMap(t, e)["healthy"] != false {
		t.Fatal("stats healthy should be false")
	}
	if v := do("/about/version"); v.Body.String() != `{"name":"JVB","version":"2.3.1-gabc","os":"Linux"}` {
		t.Fatalf("version: %q", v.Body)
	}
	if statsMap(t, e)["version"] != "2.3.1-gabc" {
		t.Fatal("stats version differs from /about/version")
	}
}

func post(e *Emulator, path, contentType, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

func TestDrain(t *testing.T) {
	e := New(Options{})
	get := func() string {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/colibri/drain", nil))
		return rec.Body.String()
	}
	if got := get(); got != `{"drain":false}` {
		t.Fatal(got)
	}
	if rec := post(e, "/colibri/drain/enable", "", ""); rec.Code != 200 || rec.Body.Len() != 0 {
		t.Fatalf("enable: %d %q", rec.Code, rec.Body)
	}
	if got := get(); got != `{"drain":true}` || statsMap(t, e)["drain"] != true {
		t.Fatal(got)
	}
	post(e, "/colibri/drain/disable", "", "")
	if got := get(); got != `{"drain":false}` {
		t.Fatal(got)
	}
}

func TestShutdown(t *testing.T) {
	const js = "application/json"
	for _, tc := range []struct {
		name, contentType, body string
		disabled                bool
		code                    int
		graceful, shutting      bool
	}{
		{name: "graceful bool", contentType: js, body: `{"graceful-shutdown": true}`, code: 200, graceful: true},
		{name: "graceful string (graceful_shutdown.sh)", contentType: "application/json; charset=utf-8",
			body: `{ "graceful-shutdown": "true" }`, code: 200, graceful: true},
		{name: "immediate", contentType: js, body: `{"graceful-shutdown":false}`, code: 200, shutting: true},
		{name: "key missing", contentType: js, body: `{}`, code: 400},
		{name: "not json", contentType: js, body: `graceful`, code: 400},
		{name: "wrong type", contentType: js, body: `{"graceful-shutdown":1}`, code: 400},
		{name: "form post", contentType: "application/x-www-form-urlencoded", body: `{"graceful-shutdown":true}`, code: 415},
		{name: "disabled", contentType: js, body: `{"graceful-shutdown":true}`, disabled: true, code: 404},
		{name: "body too large", contentType: js, body: `{"graceful-shutdown":true,"x":"` + strings.Repeat("a", maxRequestBody) + `"}`, code: 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := New(Options{ShutdownDisabled: tc.disabled})
			id := e.StartConference(4)
			rec := post(e, "/colibri/shutdown", tc.contentType, tc.body)
			if rec.Code != tc.code {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.code, rec.Body)
			}
			if tc.code == 200 && rec.Body.Len() != 0 {
				t.Errorf("body %q, want empty", rec.Body)
			}
			s := e.Stats()
			if s.GracefulShutdown != tc.graceful || s.ShuttingDown != tc.shutting {
				t.Fatalf("graceful %v shutting %v", s.GracefulShutdown, s.ShuttingDown)
			}
			if !tc.graceful {
				return
			}
			if e.StartConference(3) != "" {
				t.Error("a bridge in graceful shutdown took a new conference")
			}
			if rec := post(e, "/emulator/conferences", "", `{"size":3}`); rec.Code != http.StatusConflict {
				t.Errorf("control API start during shutdown: %d", rec.Code)
			}
			e.EndConference(id)
			m := statsMap(t, e)
			if m["graceful_shutdown"] != true || m["shutting_down"] != true {
				t.Errorf("after the last endpoint left: graceful %v shutting %v", m["graceful_shutdown"], m["shutting_down"])
			}
		})
	}
}

func TestFaults(t *testing.T) {
	e := New(Options{SlowDelay: 50 * time.Millisecond, HugeBytes: 1 << 20})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	type result struct {
		code        int
		contentType string
		body        []byte
		err         error
	}
	get := func(path string, timeout time.Duration) result {
		c := http.Client{Timeout: timeout}
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			return result{err: err}
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 2<<20))
		return result{resp.StatusCode, resp.Header.Get("Content-Type"), b, err}
	}
	for _, tc := range []struct {
		fault Fault
		path  string
		check func(r result) error
	}{
		{Hang, "/colibri/stats", func(r result) error {
			if r.err == nil {
				return errors.New("hang answered")
			}
			return nil
		}},
		{Slow, "/colibri/stats", func(r result) error {
			if r.err != nil || !json.Valid(r.body) {
				return fmt.Errorf("slow must answer in the end: %v", r.err)
			}
			return nil
		}},
		{Error500, "/about/health", func(r result) error {
			if r.code != 500 {
				return fmt.Errorf("status %d", r.code)
			}
			return nil
		}},
		{Garbage, "/colibri/stats", func(r result) error {
			if r.code != 200 || r.contentType != "application/json" || json.Valid(r.body) {
				return fmt.Errorf("%d %q valid=%v", r.code, r.contentType, json.Valid(r.body))
			}
			return nil
		}},
		{Huge, "/colibri/stats", func(r result) error {
			if r.err != nil || len(r.body) != 1<<20 || json.Valid(r.body) {
				return fmt.Errorf("%v: %d bytes", r.err, len(r.body))
			}
			return nil
		}},
		{RESTDisabled, "/colibri/stats", func(r result) error {
			if r.code != 404 {
				return fmt.Errorf("status %d", r.code)
			}
			return nil
		}},
		{RESTDisabled, "/about/health", func(r result) error {
			if r.code != 200 {
				return fmt.Errorf("/about stays on: status %d", r.code)
			}
			return nil
		}},
	} {
		t.Run(tc.fault.String()+tc.path, func(t *testing.T) {
			e.SetFault(tc.fault)
			defer e.SetFault(None)
			timeout := 10 * time.Second
			if tc.fault == Hang {
				timeout = 100 * time.Millisecond
			}
			if err := tc.check(get(tc.path, timeout)); err != nil {
				t.Error(err)
			}
			// The control API never misbehaves.
			if r := get("/emulator/state", 10*time.Second); r.code != 200 || !json.Valid(r.body) {
				t.Errorf("control API under fault %v: %d %v", tc.fault, r.code, r.err)
			}
		})
	}
}

func TestParseFault(t *testing.T) {
	for f := None; f <= RESTDisabled; f++ {
		got, err := ParseFault(f.String())
		if err != nil || got != f {
			t.Errorf("ParseFault(%q) = %v, %v", f.String(), got, err)
		}
	}
	if _, err := ParseFault("explode"); err == nil {
		t.Error("unknown fault accepted")
	}
}

func TestStatsEscapesConfiguredStrings(t *testing.T) {
	const odd = "2.3 \"beta\"\\\n\tré<gion>"
	m := statsMap(t, New(Options{Version: odd, Region: odd}))
	if m["version"] != odd || m["region"] != odd {
		t.Fatalf("version %q region %q", m["version"], m["region"])
	}
}
