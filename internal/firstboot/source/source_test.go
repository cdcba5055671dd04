package source

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const doc = "#cloud-config\nensemble:\n  version: 1\n"

func write(t *testing.T, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "user-data.txt")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func gz(t *testing.T, s string) []byte {
	var b bytes.Buffer
	z := gzip.NewWriter(&b)
	_, _ = z.Write([]byte(s))
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// metadataServer behaves like Scaleway's metadata API as cloud-init documents it: user-data
// only to privileged source ports (else 403), 404 when unset. Each handler call gets the
// next status from statuses (then 200).
func metadataServer(t *testing.T, body []byte, statuses ...int) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		_, port, _ := net.SplitHostPort(r.RemoteAddr)
		if p, _ := strconv.Atoi(port); p >= 1024 {
			http.Error(w, "unprivileged source port", http.StatusForbidden)
			return
		}
		if r.URL.Path != "/user_data/cloud-init" {
			http.NotFound(w, r)
			return
		}
		if int(n) <= len(statuses) {
			w.WriteHeader(statuses[n-1])
			return
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func TestReadFile(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content []byte
		want    string
		err     string
	}{
		{"plain", []byte(doc), doc, ""},
		{"gzip", gz(t, doc), doc, ""},
		{"too large", bytes.Repeat([]byte("a"), 1<<20+1), "", "larger than 1048576 bytes"},
		{"gzip bomb", gz(t, strings.Repeat("a", 2<<20)), "", "once uncompressed"},
		{"broken gzip", []byte{0x1f, 0x8b, 0, 0}, "", "gzip user-data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := write(t, tc.content)
			for _, o := range []Options{{File: p}, {Kind: CloudInit, CloudInitFile: p}} {
				got, from, err := Read(context.Background(), o)
				if tc.err != "" {
					if err == nil || !strings.Contains(err.Error(), tc.err) {
						t.Fatalf("err = %v, want %q", err, tc.err)
					}
					continue
				}
				if err != nil || string(got) != tc.want || from != p {
					t.Fatalf("Read = %q, %q, %v", got, from, err)
				}
			}
		})
	}
}

func TestReadMissing(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none")
	for _, o := range []Options{{File: missing}, {Kind: CloudInit, CloudInitFile: missing}} {
		_, _, err := Read(context.Background(), o)
		if !errors.Is(err, ErrNone) || !strings.Contains(err.Error(), missing) {
			t.Fatalf("err = %v", err)
		}
	}
	if _, _, err := Read(context.Background(), Options{Kind: "ec2"}); err == nil || !strings.Contains(err.Error(), `"ec2"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestScaleway(t *testing.T) {
	ctx := context.Background()
	t.Run("privileged port", func(t *testing.T) {
		srv, _ := metadataServer(t, []byte(doc))
		// Hold the first source port the client tries: it must move on to the next one.
		if l, err := net.Listen("tcp", ":"+strconv.Itoa(firstSourcePort)); err == nil {
			t.Cleanup(func() { _ = l.Close() })
		}
		got, from, err := Read(ctx, Options{Kind: Scaleway, ScalewayURL: srv.URL, Timeout: 10 * time.Second})
		if err != nil || string(got) != doc || from != "scaleway metadata API" {
			t.Fatalf("Read = %q, %q, %v", got, from, err)
		}
	})
	t.Run("gzip", func(t *testing.T) {
		srv, _ := metadataServer(t, gz(t, doc))
		got, _, err := Read(ctx, Options{Kind: Scaleway, ScalewayURL: srv.URL, Timeout: 10 * time.Second})
		if err != nil || string(got) != doc {
			t.Fatalf("Read = %q, %v", got, err)
		}
	})
	t.Run("throttled then served", func(t *testing.T) {
		srv, calls := metadataServer(t, []byte(doc), http.StatusTooManyRequests, http.StatusBadGateway)
		got, _, err := Read(ctx, Options{Kind: Scaleway, ScalewayURL: srv.URL, Timeout: 10 * time.Second})
		if err != nil || string(got) != doc || calls.Load() != 3 {
			t.Fatalf("Read = %q, %v after %d calls", got, err, calls.Load())
		}
	})
	t.Run("404 falls back to cloud-init", func(t *testing.T) {
		srv, _ := metadataServer(t, nil, http.StatusNotFound)
		p := write(t, []byte(doc))
		got, from, err := Read(ctx, Options{Kind: Scaleway, ScalewayURL: srv.URL, CloudInitFile: p, Timeout: 10 * time.Second})
		if err != nil || string(got) != doc || from != p {
			t.Fatalf("Read = %q, %q, %v", got, from, err)
		}
	})
	t.Run("404 and no file", func(t *testing.T) {
		srv, _ := metadataServer(t, nil, http.StatusNotFound)
		_, _, err := Read(ctx, Options{Kind: Scaleway, ScalewayURL: srv.URL, CloudInitFile: filepath.Join(t.TempDir(), "x"), Timeout: 10 * time.Second})
		if !errors.Is(err, ErrNone) || !strings.Contains(err.Error(), "404") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("forbidden is permanent", func(t *testing.T) {
		srv, calls := metadataServer(t, nil, http.StatusForbidden)
		_, _, err := Read(ctx, Options{Kind: Scaleway, ScalewayURL: srv.URL, Timeout: 10 * time.Second})
		if err == nil || !strings.Contains(err.Error(), "403") || calls.Load() != 1 {
			t.Fatalf("err = %v after %d calls", err, calls.Load())
		}
	})
	t.Run("too large", func(t *testing.T) {
		srv, _ := metadataServer(t, bytes.Repeat([]byte("a"), 1<<20+1))
		_, _, err := Read(ctx, Options{Kind: Scaleway, ScalewayURL: srv.URL, Timeout: 10 * time.Second})
		if err == nil || !strings.Contains(err.Error(), "larger than") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		srv, _ := metadataServer(t, nil, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503)
		start := time.Now()
		_, _, err := Read(ctx, Options{Kind: Scaleway, ScalewayURL: srv.URL, Timeout: 1500 * time.Millisecond})
		if err == nil || !strings.Contains(err.Error(), "503") {
			t.Fatalf("err = %v", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("took %v with a 1.5 s timeout", d)
		}
	})
}
