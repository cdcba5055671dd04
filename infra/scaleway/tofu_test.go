// Package scaleway holds the checks of the OpenTofu module in this directory: they run the real
// OpenTofu CLI (built by scripts/install-deps.sh) offline, against the schema-only stand-in of the
// scaleway provider (tools/tofu-scaleway), and the pg backend against a real PostgreSQL.
package scaleway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/lab/services"
)

const tofuVersion = "v1.12.6"

// testPassphrase encrypts the tests' state and plans, as TF_VAR_state_passphrase does the
// operator's (docs/infra.md). It is one of the secrets the tests look for in plain text.
const testPassphrase = "TESTPASSPHRASE-state-0123456789"

// tofuPath is the OpenTofu binary: $ENSEMBLE_TOFU, else the one install-deps.sh caches.
func tofuPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("ENSEMBLE_TOFU"); p != "" {
		return p
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Fatal(err)
		}
		cache = filepath.Join(home, ".cache")
	}
	p := filepath.Join(cache, "ensemble", "tofu-"+tofuVersion)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("OpenTofu %s not found at %s: run scripts/install-deps.sh (or set ENSEMBLE_TOFU): %v", tofuVersion, p, err)
	}
	return p
}

var (
	pluginOnce sync.Once
	pluginDir  string
	pluginErr  error
)

// standInPluginDir builds the stand-in provider once per test binary into a directory laid out
// as `tofu init -plugin-dir` expects.
func standInPluginDir(t *testing.T) string {
	t.Helper()
	pluginOnce.Do(func() {
		var schema struct {
			Version string `json:"version"`
		}
		b, err := os.ReadFile("../../tools/tofu-scaleway/cmd/terraform-provider-scaleway/schema.json")
		if err == nil {
			err = json.Unmarshal(b, &schema)
		}
		if err != nil {
			pluginErr = fmt.Errorf("stand-in schema: %w", err)
			return
		}
		dir, err := os.MkdirTemp("", "ensemble-tofu-plugins-")
		if err != nil {
			pluginErr = err
			return
		}
		pluginDir = dir
		out := filepath.Join(dir, "registry.opentofu.org", "scaleway", "scaleway", schema.Version,
			runtime.GOOS+"_"+runtime.GOARCH, "terraform-provider-scaleway_v"+schema.Version)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/terraform-provider-scaleway")
		cmd.Dir = "../../tools/tofu-scaleway"
		if b, err := cmd.CombinedOutput(); err != nil {
			pluginErr = fmt.Errorf("build the stand-in provider: %w\n%s", err, b)
		}
	})
	if pluginErr != nil {
		t.Fatal(pluginErr)
	}
	return pluginDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if pluginDir != "" {
		os.RemoveAll(pluginDir)
	}
	os.Exit(code)
}

// moduleCopy copies the module (its .tf, .json, tests and testdata) into a temporary directory,
// so init's .terraform and lock file never land in the source tree, at infra/scaleway under it,
// beside a copy of deploy/consul (the module reads the ACL policies from there). extra replaces
// or adds files of the module.
func moduleCopy(t *testing.T, extra map[string]string) string {
	t.Helper()
	root := t.TempDir()
	copyTree := func(src, dst string, skip func(path string) bool) {
		err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(src, path)
			if err != nil {
				return err
			}
			if d.IsDir() {
				if strings.HasPrefix(d.Name(), ".terraform") {
					return filepath.SkipDir
				}
				return os.MkdirAll(filepath.Join(dst, rel), 0o755)
			}
			if skip(rel) {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	dst := filepath.Join(root, "infra", "scaleway")
	// Not the tests' sources, and no operator state, plans or inputs that tofu would load.
	copyTree(".", dst, func(path string) bool {
		return strings.HasSuffix(path, ".go") || strings.Contains(path, "tfstate") || strings.HasSuffix(path, ".tfplan") ||
			path == "terraform.tfvars" || strings.Contains(path, ".auto.tfvars")
	})
	copyTree("../../deploy/consul", filepath.Join(root, "deploy", "consul"), func(string) bool { return false })
	for name, content := range extra {
		if err := os.WriteFile(filepath.Join(dst, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// tofu runs OpenTofu in dir and returns its combined output. Nothing reaches the network:
// providers come only from the plugin directory, and checkpoint calls are off.
func tofu(t *testing.T, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tofuPath(t), args...)
	cmd.Dir = dir
	// An empty CLI configuration: no operator's provider_installation or credentials apply.
	rc := filepath.Join(t.TempDir(), "tofurc")
	if err := os.WriteFile(rc, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(os.Environ(), "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1", "TF_INPUT=0", "NO_COLOR=1", "TF_CLI_CONFIG_FILE="+rc,
		"TF_VAR_state_passphrase="+testPassphrase)
	cmd.Env = append(cmd.Env, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	return out.String(), err
}

func mustTofu(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	out, err := tofu(t, dir, env, args...)
	if err != nil {
		t.Fatalf("tofu %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func initModule(t *testing.T, extra map[string]string, env []string) string {
	t.Helper()
	dir := moduleCopy(t, extra)
	mustTofu(t, dir, env, "init", "-no-color", "-input=false", "-plugin-dir="+standInPluginDir(t))
	return dir
}

func TestTofuFmt(t *testing.T) {
	t.Parallel()
	if out, err := tofu(t, "..", nil, "fmt", "-check", "-recursive", "-diff", "-no-color"); err != nil {
		t.Fatalf("tofu fmt -check -recursive infra: %v (run tofu fmt -recursive infra)\n%s", err, out)
	}
}

// TestTofuValidateAndTest runs `tofu validate` (every resource type and argument against the
// stand-in schema) and `tofu test` (tests/*.tftest.hcl with mock_provider, from the example inputs).
func TestTofuValidateAndTest(t *testing.T) {
	t.Parallel()
	dir := initModule(t, nil, nil)
	out := mustTofu(t, dir, nil, "validate", "-no-color")
	if !strings.Contains(out, "The configuration is valid") {
		t.Fatalf("tofu validate:\n%s", out)
	}
	out = mustTofu(t, dir, nil, "test", "-no-color", "-var-file=testdata/valid.tfvars")
	// Every run must pass: a run that is skipped or errored would not fail tofu test by itself
	// in every version, so count them.
	m := regexp.MustCompile(`Success! (\d+) passed, 0 failed`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("tofu test did not pass every run:\n%s", out)
	}
	runs := len(regexp.MustCompile(`(?m)^\s*run "[^"]+"\.\.\. pass`).FindAllString(out, -1))
	if runs < 11 || fmt.Sprint(runs) != m[1] {
		t.Fatalf("tofu test: %s passed, %d run lines say pass; want at least 11:\n%s", m[1], runs, out)
	}
}

// TestTofuPlanRejects runs real plans (the stand-in provider, no mocks) with one bad input each
// and checks the error names the problem. testdata/invalid/*.tfvars start with "# want: MESSAGE".
func TestTofuPlanRejects(t *testing.T) {
	t.Parallel()
	dir := initModule(t, nil, nil)
	cases, err := filepath.Glob("testdata/invalid/*.tfvars")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no cases in testdata/invalid: %v", err)
	}
	for _, c := range cases {
		t.Run(strings.TrimSuffix(filepath.Base(c), ".tfvars"), func(t *testing.T) {
			if err := planRejects(t, dir, c); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// planRejects plans the example inputs overridden by the tfvars file c, which starts with
// "# want: MESSAGE", and fails unless the plan fails with MESSAGE.
func planRejects(t *testing.T, dir, c string) error {
	t.Helper()
	b, err := os.ReadFile(c)
	if err != nil {
		return err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	want, ok := strings.CutPrefix(first, "# want: ")
	if !ok {
		return fmt.Errorf("%s: first line must be # want: MESSAGE", c)
	}
	out, err := tofu(t, dir, nil, "plan", "-no-color", "-input=false", "-lock=false", "-refresh=false",
		"-var-file=testdata/valid.tfvars", "-var-file="+c)
	if err == nil {
		return fmt.Errorf("plan with %s succeeded, want an error containing %q:\n%s", c, want, out)
	}
	// tofu wraps long messages; compare with whitespace collapsed.
	if flat := strings.Join(strings.Fields(out), " "); !strings.Contains(flat, want) {
		return fmt.Errorf("plan with %s failed without %q:\n%s", c, want, out)
	}
	return nil
}

// savedPlan plans the example inputs (and args) into fleet.tfplan, as docs/infra.md does, and
// decodes it. The stand-in plans known IDs (SCALEWAY_STANDIN_KNOWN_IDS), so the plan shows
// which instance refers to which.
func savedPlan(t *testing.T, dir string, args ...string) (*plan, error) {
	t.Helper()
	args = append([]string{"plan", "-no-color", "-input=false", "-var-file=testdata/valid.tfvars", "-out=fleet.tfplan"}, args...)
	if out, err := tofu(t, dir, []string{"SCALEWAY_STANDIN_KNOWN_IDS=1"}, args...); err != nil {
		return nil, fmt.Errorf("tofu plan: %v\n%s", err, out)
	}
	out, err := tofu(t, dir, nil, "show", "-json", "-no-color", "fleet.tfplan")
	if err != nil {
		return nil, fmt.Errorf("tofu show -json: %v\n%s", err, out)
	}
	var p plan
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		return nil, fmt.Errorf("tofu show -json: %w", err)
	}
	return &p, nil
}

// checkStateAndPlanEncrypted fails if the saved plan p came from, or the state a refresh-only
// apply writes (the stand-in allows it: it records the outputs, tokens included), is readable
// without the passphrase or holds one of p's secrets in plain text.
func checkStateAndPlanEncrypted(t *testing.T, dir string, p *plan) error {
	t.Helper()
	secrets := p.secrets()
	if err := checkEncrypted(filepath.Join(dir, "fleet.tfplan"), secrets); err != nil {
		return err
	}
	if out, err := tofu(t, dir, nil, "apply", "-no-color", "-input=false", "-auto-approve", "-refresh-only", "-var-file=testdata/valid.tfvars"); err != nil {
		return fmt.Errorf("tofu apply -refresh-only: %v\n%s", err, out)
	}
	// The state holds the tokens (tofu reads them back with the passphrase) ...
	out, err := tofu(t, dir, nil, "output", "-no-color", "-raw", "consul_management_token")
	if err != nil || out != p.PlannedValues.Outputs["consul_management_token"].Value {
		return fmt.Errorf("the state does not hold the management token: %v\n%s", err, out)
	}
	// ... but not in plain text.
	return checkEncrypted(filepath.Join(dir, "terraform.tfstate"), secrets)
}

// TestFirstRun walks docs/infra.md's first run against the stand-in up to the apply: a saved
// plan of the whole fleet in one pass (no targeted apply, no token made by hand), every node's
// tokens derived as documented, no secret in a plain output, in the plan file or in the state,
// the plan file's name git-ignored, fixed addresses reserved before DHCP, DNS before nodes, and
// apply refused by the stand-in rather than pretending to create anything.
func TestFirstRun(t *testing.T) {
	t.Parallel()
	dir := initModule(t, nil, nil)
	planOut := mustTofu(t, dir, nil, "plan", "-no-color", "-input=false", "-var-file=testdata/valid.tfvars", "-out=fleet.tfplan")
	// vpc + network + ipam 3 control + 8 selectors + 1 lb
	// + 3 nodes x (ip, server, dns) + 1 node placement group
	// + 3 control x (ip, server, nic) + placement group + 2 selectors x (ip, server, nic) + placement group
	// + 3 security groups + lb ip, lb, backend, certificate, 2 frontends + 2 dns records.
	want := 2 + 3 + 8 + 1 + 3*3 + 1 + 3*3 + 1 + 2*3 + 1 + 3 + 6 + 2
	if !strings.Contains(planOut, fmt.Sprintf("Plan: %d to add, 0 to change, 0 to destroy.", want)) {
		t.Fatalf("want a plan adding %d resources:\n%s", want, planOut)
	}
	out, err := tofu(t, dir, nil, "apply", "-no-color", "-input=false", "-auto-approve", "fleet.tfplan")
	if err == nil || !strings.Contains(out, "schema-only stand-in provider: cannot apply") {
		t.Fatalf("apply through the stand-in must fail with its message; err=%v\n%s", err, out)
	}

	p, err := savedPlan(t, dir, planChecksArgs...)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range p.secrets() {
		if strings.Contains(planOut, s) {
			t.Errorf("the plan output shows the secret %.12s...", s)
		}
	}
	if err := planChecks(p, dir); err != nil {
		t.Error(err)
	}
	if err := checkStateAndPlanEncrypted(t, dir, p); err != nil {
		t.Error(err)
	}
	if err := checkBuilderType(dir); err != nil {
		t.Error(err)
	}
	// The documented derivation, computed here independently.
	for _, tok := range p.PlannedValues.Outputs["consul_acl"].Value.(map[string]any)["tokens"].([]any) {
		tok := tok.(map[string]any)
		if want := derivedUUID("TESTSEED-0123456789abcdef0123456789abcdef", tok["host"].(string), tok["purpose"].(string), 1); tok["secret_id"] != want {
			t.Errorf("%s: secret %s, docs/infra.md's formula gives %s", tok["description"], tok["secret_id"], want)
		}
	}
	// The files the documented run writes next to the module stay out of git.
	for _, f := range []string{"fleet.tfplan", "terraform.tfstate", "terraform.tfstate.backup", "terraform.tfvars", ".terraform/x", "selector.key", "selector.pem"} {
		if err := exec.Command("git", "check-ignore", "-q", f).Run(); err != nil {
			t.Errorf("%s is not git-ignored: %v", f, err)
		}
	}
}

// TestPgBackend initialises the module with backend_pg.tf.example against a real PostgreSQL,
// checks the state lands in the database, and that a lock held elsewhere stops a plan.
func TestPgBackend(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pg, err := services.StartPostgres(ctx, services.PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Fatalf("psql not found (postgresql-client): %v", err)
	}
	query := func(sql string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, psql, pg.URL, "-XAtc", sql).CombinedOutput()
		if err != nil {
			t.Fatalf("psql %q: %v\n%s", sql, err, out)
		}
		return strings.TrimSpace(string(out))
	}

	example, err := os.ReadFile("backend_pg.tf.example")
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"PG_CONN_STR=" + pg.URL}
	dir := initModule(t, map[string]string{"backend_pg.tf": string(example)}, env)
	mustTofu(t, dir, env, "workspace", "new", "-no-color", "ci")
	if got := query(`select string_agg(name, ',' order by name) from ensemble_fleet.states`); got != "ci,default" && got != "ci" {
		t.Fatalf("workspaces in ensemble_fleet.states = %q, want ci (and default)", got)
	}
	id := query(`select id from ensemble_fleet.states where name = 'ci'`)

	// Hold the workspace's advisory lock from another session, as a concurrent run would.
	holder := exec.CommandContext(ctx, psql, pg.URL, "-X")
	stdin, err := holder.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	holder.Stdout, holder.Stderr = io.Discard, io.Discard
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = holder.Process.Kill(); _ = holder.Wait() }()
	if _, err := fmt.Fprintf(stdin, "select pg_advisory_lock(%s);\n", id); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for query(fmt.Sprintf(`select count(*) from pg_locks where locktype = 'advisory' and objid = %s and granted`, id)) != "1" {
		if time.Now().After(deadline) {
			t.Fatal("the holder session never got the advisory lock")
		}
		time.Sleep(50 * time.Millisecond)
	}
	out, err := tofu(t, dir, env, "plan", "-no-color", "-input=false", "-lock-timeout=1s", "-var-file=testdata/valid.tfvars")
	if err == nil || !strings.Contains(out, "Error acquiring the state lock") {
		t.Fatalf("plan while another session holds the lock: want a lock error; err=%v\n%s", err, out)
	}

	// Release it: the same plan now goes through.
	stdin.Close()
	if err := holder.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("holder psql: %v", err)
	}
	out = mustTofu(t, dir, env, "plan", "-no-color", "-input=false", "-lock-timeout=30s", "-var-file=testdata/valid.tfvars")
	if !strings.Contains(out, "to add") {
		t.Fatalf("plan after the lock was released:\n%s", out)
	}

	// The state in the database is encrypted like a local one: write the outputs (a refresh-only
	// apply), read the row.
	mustTofu(t, dir, env, "apply", "-no-color", "-input=false", "-auto-approve", "-refresh-only", "-var-file=testdata/valid.tfvars")
	row := query(`select data from ensemble_fleet.states where name = 'ci'`)
	if !strings.Contains(row, `"encrypted_data"`) || strings.Contains(row, "TESTSEED") || strings.Contains(row, "consul_management_token") {
		t.Fatalf("the state row in PostgreSQL is not encrypted:\n%.300s", row)
	}
}
