package certs

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const pki = "../userdata/testdata/pki/"

func pair(t *testing.T) (chain, key []byte) {
	t.Helper()
	chain, err := os.ReadFile(pki + "wildcard.pem")
	if err != nil {
		t.Fatal(err)
	}
	key, err = os.ReadFile(pki + "wildcard.key")
	if err != nil {
		t.Fatal(err)
	}
	return chain, key
}

func TestInstallAndRenewal(t *testing.T) {
	dir := t.TempDir()
	p := Paths{Cert: filepath.Join(dir, "node.crt"), Key: filepath.Join(dir, "node.key"), KeyGID: 0}
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	if need, why := NeedsRenewal(p, "meet.example.org", now, 30*24*time.Hour); !need || why != "no certificate yet" {
		t.Fatalf("empty: %v %q", need, why)
	}
	chain, key := pair(t)
	changed, err := Install(p, chain, key)
	if err != nil || len(changed) != 2 || changed[0] != p.Key {
		t.Fatalf("Install = %v, %v (key first)", changed, err)
	}
	for path, mode := range map[string]os.FileMode{p.Cert: 0o644, p.Key: 0o640} {
		if st, _ := os.Stat(path); st.Mode().Perm() != mode {
			t.Errorf("%s mode %v", path, st.Mode())
		}
	}
	if changed, err := Install(p, chain, key); err != nil || len(changed) != 0 {
		t.Fatalf("second Install = %v, %v", changed, err)
	}
	for _, tc := range []struct {
		name string
		now  time.Time
		need bool
		why  string
	}{
		{"meet.example.org", now, false, "valid until 2046-01-01"},
		{"meet.example.net", now, true, "does not cover meet.example.net"},
		{"meet.example.org", time.Date(2045, 12, 15, 0, 0, 0, 0, time.UTC), true, "expires 2046-01-01"},
		{"meet.example.org", time.Date(2046, 2, 1, 0, 0, 0, 0, time.UTC), true, "expired on 2046-01-01"},
	} {
		need, why := NeedsRenewal(p, tc.name, tc.now, 30*24*time.Hour)
		if need != tc.need || !strings.Contains(why, tc.why) {
			t.Errorf("%s at %s: %v %q, want %v %q", tc.name, tc.now.Format(time.DateOnly), need, why, tc.need, tc.why)
		}
	}
}

func TestResponder(t *testing.T) {
	r := newResponder()
	a := &ACME{}
	if err := a.publish(r, "tok", "tok.thumb"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r)
	defer srv.Close()
	for _, tc := range []struct {
		method, path string
		code         int
		body         string
	}{
		{http.MethodGet, challengePrefix + "tok", 200, "tok.thumb"},
		{http.MethodHead, challengePrefix + "tok", 200, ""},
		{http.MethodGet, challengePrefix + "other", 404, ""},
		{http.MethodGet, "/tok", 404, ""},
		{http.MethodPost, challengePrefix + "tok", 404, ""},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		_, _ = io.Copy(&b, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || tc.code == 200 && b.String() != tc.body {
			t.Errorf("%s %s = %d %q", tc.method, tc.path, resp.StatusCode, b.String())
		}
	}
	a.unpublish(r, "tok")
	if resp, err := http.Get(srv.URL + challengePrefix + "tok"); err != nil || resp.StatusCode != 404 {
		t.Errorf("after unpublish: %v %v", resp, err)
	}
}

func TestWebrootRefusesPaths(t *testing.T) {
	a := &ACME{Webroot: t.TempDir()}
	for _, tok := range []string{"../x", "a/b", "..", `a\b`} {
		if err := a.publish(newResponder(), tok, "x"); err == nil {
			t.Errorf("token %q accepted", tok)
		}
	}
	if err := a.publish(newResponder(), "good-token_1", "body"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(a.Webroot, "good-token_1"))
	if err != nil || string(b) != "body" {
		t.Fatalf("webroot file: %q, %v", b, err)
	}
}
