package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath returns the real Chromium binary: $ENSEMBLE_CHROMIUM, else
// /usr/lib/chromium/chromium (Debian's /usr/bin/chromium is a wrapper
// script), else chromium or chromium-browser on PATH.
func ChromiumPath() (string, error) {
	if p := os.Getenv("ENSEMBLE_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("ENSEMBLE_CHROMIUM: %w", err)
		}
		return p, nil
	}
	if _, err := os.Stat("/usr/lib/chromium/chromium"); err == nil {
		return "/usr/lib/chromium/chromium", nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("chromium not found: run scripts/install-deps.sh")
}

// Browser starts a headless Chromium with a fresh profile and returns a
// chromedp context for it that ends after 60 s; the browser is stopped by
// t.Cleanup. The flags are those of services.md §4 (--no-sandbox because
// tests run as root) plus ignore-certificate-errors, since the pages under
// test serve https with self-signed certificates.
func Browser(t testing.TB) context.Context {
	t.Helper()
	path, err := ChromiumPath()
	if err != nil {
		t.Fatal(err)
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// That flag puts shared memory files in TMPDIR; Chromium leaves
		// their directory behind, so it goes where the test cleans up.
		chromedp.Env("TMPDIR="+t.TempDir()),
		chromedp.Flag("ignore-certificate-errors", true),
	)
	t.Cleanup(cancelA)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancelT)
	return ctx
}
