package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRunBadArguments(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"--no-such-flag"}, 2},
		{[]string{"--fault.huge-bytes=lots"}, 2},
		{[]string{"--web.listen-address=127.0.0.1:notaport"}, 1},
		{[]string{"--conference=-4"}, 1},
	} {
		var stdout, stderr bytes.Buffer
		if got := run(tc.args, &stdout, &stderr); got != tc.code || stderr.Len() == 0 {
			t.Errorf("run(%v) = %d, want %d; stderr %q", tc.args, got, tc.code, stderr.String())
		}
	}
}

// TestRunPrintsAddressAndStopsOnSIGTERM runs the command in-process: it
// prints its URL, serves the configured bridge and exits 0 on SIGTERM.
func TestRunPrintsAddressAndStopsOnSIGTERM(t *testing.T) {
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"--conference=5", "--jvb.region=eu-west-1", "--log.level=warn"}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok || !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("first line %q", line)
	}
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url + "/colibri/stats")
	if err != nil {
		t.Fatal(err)
	}
	var stats map[string]any
	err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&stats)
	resp.Body.Close()
	if err != nil || stats["endpoints"] != 5.0 || stats["region"] != "eu-west-1" {
		t.Fatalf("stats %v: endpoints %v region %v", err, stats["endpoints"], stats["region"])
	}
	// The signal is caught by run's NotifyContext, set up before the
	// listening line was printed.
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit code %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}
