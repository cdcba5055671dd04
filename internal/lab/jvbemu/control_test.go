package jvbemu

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestControlAPI runs the request scripts in testdata/control: each line
// is "METHOD PATH STATUS [BODY]", replayed in order on one emulator, with
// $ID standing for the id the last conference creation returned.
func TestControlAPI(t *testing.T) {
	files, err := filepath.Glob("testdata/control/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			e := New(Options{})
			id := ""
			sc := bufio.NewScanner(f)
			for line := 1; sc.Scan(); line++ {
				text := strings.TrimSpace(sc.Text())
				if text == "" || strings.HasPrefix(text, "#") {
					continue
				}
				fields := strings.SplitN(text, " ", 4)
				if len(fields) < 3 {
					t.Fatalf("line %d: want METHOD PATH STATUS [BODY]", line)
				}
				body := ""
				if len(fields) == 4 {
					body = fields[3]
				}
				body = strings.ReplaceAll(body, "$BIG", strings.Repeat("x", maxRequestBody))
				req := httptest.NewRequest(fields[0], strings.ReplaceAll(fields[1], "$ID", id), strings.NewReader(body))
				rec := httptest.NewRecorder()
				e.ServeHTTP(rec, req)
				if want, err := strconv.Atoi(fields[2]); err != nil || rec.Code != want {
					t.Fatalf("line %d %s: status %d, want %s; body %s", line, text, rec.Code, fields[2], rec.Body)
				}
				// The mux's own 405 is plain text; our handlers answer JSON.
				if rec.Code >= 400 && rec.Code != http.StatusMethodNotAllowed {
					var out struct{ Error string }
					if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Error == "" {
						t.Errorf("line %d: error answer without an error message: %s", line, rec.Body)
					}
				}
				if rec.Code == http.StatusCreated {
					var out struct{ ID string }
					if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.ID == "" {
						t.Fatalf("line %d: no id in %s", line, rec.Body)
					}
					id = out.ID
				}
			}
		})
	}
}

func TestControlStateReflectsChanges(t *testing.T) {
	e := New(Options{})
	post(e, "/emulator/conferences", "", `{"size":5}`)
	post(e, "/emulator/stress", "", `{"stress":0.9}`)
	post(e, "/emulator/health", "", `{"code":500,"message":"Sticky failure."}`)
	post(e, "/emulator/fault", "", `{"fault":"slow"}`)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/emulator/state", nil))
	var s Snapshot
	if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil {
		t.Fatal(err)
	}
	if s.Endpoints != 5 || s.StressLevel != 0.9 || !s.StressOverride || s.HealthCode != 500 ||
		s.HealthMessage != "Sticky failure." || s.Fault != "slow" || len(s.Conferences) != 1 {
		t.Fatalf("state %+v", s)
	}
}

// TestRunServesAndStops runs the server as the command does: it reports
// its address, serves, and returns promptly on cancel even while a request
// hangs.
func TestRunServesAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, RunOptions{
			ListenAddress: "127.0.0.1:0",
			Conferences:   []int{6, 4},
			Listening:     func(a net.Addr) { addrc <- a },
		})
	}()
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a.String()
	case err := <-done:
		t.Fatal(err)
	}
	resp, err := http.Get(base + "/colibri/stats")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	err = json.NewDecoder(resp.Body).Decode(&m)
	resp.Body.Close()
	if err != nil || m["endpoints"] != 10.0 {
		t.Fatalf("stats: %v %v", err, m["endpoints"])
	}
	post := func(path, body string) {
		resp, err := http.Post(base+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	post("/emulator/fault", `{"fault":"hang"}`)
	hung := make(chan error, 1)
	written := make(chan struct{})
	go func() {
		trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { close(written) }}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
			http.MethodGet, base+"/colibri/stats", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		hung <- err
	}()
	<-written
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("Run did not return within 4 s of cancel")
	}
	<-hung
}

func TestRunRejectsBadInput(t *testing.T) {
	for _, o := range []RunOptions{
		{ListenAddress: "127.0.0.1:notaport"},
		{ListenAddress: "127.0.0.1:0", Conferences: []int{-1}},
	} {
		if err := Run(context.Background(), o); err == nil {
			t.Errorf("Run(%+v) succeeded", o)
		}
	}
}
