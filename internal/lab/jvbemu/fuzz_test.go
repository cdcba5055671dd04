package jvbemu

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzParseShutdown: any body gives a decision or an error, never a panic,
// and only a body with the required key is accepted.
func FuzzParseShutdown(f *testing.F) {
	f.Add([]byte(`{"graceful-shutdown": true}`))
	f.Add([]byte(`{ "graceful-shutdown": "true" }`))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, err := parseShutdown(body)
		if err != nil {
			return
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(body, &m) != nil {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		if _, ok := m["graceful-shutdown"]; !ok {
			t.Fatalf("accepted %q without graceful-shutdown", body)
		}
	})
}

// FuzzControlAPI: any body on any control route answers a client error or
// success with a JSON body, never a panic or a 5xx, and the stats stay
// valid JSON afterwards.
func FuzzControlAPI(f *testing.F) {
	f.Add(uint8(0), `{"size":6}`)
	f.Add(uint8(1), `{"stress":0.5}`)
	f.Add(uint8(2), `{"code":503,"message":"x"}`)
	f.Add(uint8(3), `{"fault":"garbage"}`)
	f.Add(uint8(4), `{"size":-3}`)
	paths := []string{"/emulator/conferences", "/emulator/stress", "/emulator/health", "/emulator/fault", "/emulator/conferences/conf-1"}
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		e := New(Options{})
		e.StartConference(3)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, paths[int(route)%len(paths)], strings.NewReader(body)))
		if rec.Code >= 500 || !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %q: %d %s", paths[int(route)%len(paths)], body, rec.Code, rec.Body)
		}
		e.SetFault(None)
		if !json.Valid(e.statsJSON()) {
			t.Fatalf("stats invalid after %q", body)
		}
	})
}
