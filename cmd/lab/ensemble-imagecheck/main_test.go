package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ensemble_jvb_up 1\nensemble_nginx_up 0\n"))
	}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		name        string
		args        []string
		code        int
		out, errOut string
	}{
		{"passes", []string{"metrics", "--url=" + srv.URL, "--want=ensemble_jvb_up=1"}, 0, "metrics as wanted at " + srv.URL, ""},
		{"fails", []string{"--timeout=300ms", "metrics", "--url=" + srv.URL, "--want=ensemble_nginx_up=1"}, 1, "",
			"still failing after"},
		{"bad value", []string{"metrics", "--url=" + srv.URL, "--want=ensemble_jvb_up=up"}, 2, "", `--want ensemble_jvb_up=up`},
		{"passing without a set", []string{"passing"}, 2, "", "passing takes --want or --not"},
		{"no command", nil, 2, "", "command not specified"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, &stdout, &stderr); code != tc.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.code, stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.out) || !strings.Contains(stderr.String(), tc.errOut) {
				t.Fatalf("stdout %q, stderr %q; want %q and %q in them", stdout.String(), stderr.String(), tc.out, tc.errOut)
			}
		})
	}
}
