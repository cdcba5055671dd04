package scaleway

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// breakage is one deliberately broken copy of the module (testdata/broken/*.txt): each edit
// replaces old by new in file, then check must fail saying want.
type breakage struct {
	check, want string
	edits       []edit
}

type edit struct{ file, old, new string }

// parseBreakage reads the format of testdata/broken: "# check: ...", "# want: ..." header
// lines, then one or more edits: "--- FILE", the text to replace, "+++" and its replacement.
func parseBreakage(text string) (breakage, error) {
	var b breakage
	parts := strings.Split(text, "\n--- ")
	for _, l := range strings.Split(parts[0], "\n") {
		if v, ok := strings.CutPrefix(l, "# check: "); ok {
			b.check = v
		}
		if v, ok := strings.CutPrefix(l, "# want: "); ok {
			b.want = v
		}
	}
	for _, p := range parts[1:] {
		file, rest, _ := strings.Cut(p, "\n")
		old, new, ok := strings.Cut(rest, "+++\n")
		if !ok || old == "" {
			return b, fmt.Errorf("edit of %s: want --- FILE, old text, +++, new text", file)
		}
		b.edits = append(b.edits, edit{file, old, new})
	}
	if b.check == "" || b.want == "" || len(b.edits) == 0 {
		return b, fmt.Errorf("want # check:, # want: and at least one edit")
	}
	return b, nil
}

// TestBrokenModules shows every invariant catches its breakage: each testdata/broken case is
// applied to a copy of the module, and the check it names must fail with its message. A case
// whose text no longer matches the module fails too, so the cases follow the module.
func TestBrokenModules(t *testing.T) {
	t.Parallel()
	cases, err := filepath.Glob("testdata/broken/*.txt")
	if err != nil || len(cases) < 15 {
		t.Fatalf("want at least 15 cases in testdata/broken: %d, %v", len(cases), err)
	}
	for _, c := range cases {
		t.Run(strings.TrimSuffix(filepath.Base(c), ".txt"), func(t *testing.T) {
			t.Parallel()
			text, err := os.ReadFile(c)
			if err != nil {
				t.Fatal(err)
			}
			b, err := parseBreakage(string(text))
			if err != nil {
				t.Fatalf("%s: %v", c, err)
			}
			files := map[string]string{}
			for _, e := range b.edits {
				src, ok := files[e.file]
				if !ok {
					raw, err := os.ReadFile(e.file)
					if err != nil {
						t.Fatal(err)
					}
					src = string(raw)
				}
				if n := strings.Count(src, e.old); n != 1 {
					t.Fatalf("%s: the text to replace occurs %d times in %s, want once", c, n, e.file)
				}
				files[e.file] = strings.Replace(src, e.old, e.new, 1)
			}
			dir := initModule(t, files, nil)
			got := runCheck(t, dir, b.check)
			if got == nil {
				t.Fatalf("%s: check %q passes on the broken module", c, b.check)
			}
			if flat := strings.Join(strings.Fields(got.Error()), " "); !strings.Contains(flat, b.want) {
				t.Fatalf("%s: check %q failed without %q:\n%v", c, b.check, b.want, got)
			}
		})
	}
}

// planChecksArgs plans 21 nodes: two placement groups, so a node in the wrong one shows.
var planChecksArgs = []string{"-var=node_count=21"}

// planChecks runs every check of a plan made with planChecksArgs.
func planChecks(p *plan, dir string) error {
	for _, err := range []error{checkOutputs(p, 21), checkPairing(p), checkOrder(p), checkCertificatesReplacedFirst(dir)} {
		if err != nil {
			return err
		}
	}
	return nil
}

// runCheck runs one named check on an initialised module copy and returns its failure.
func runCheck(t *testing.T, dir, check string) error {
	t.Helper()
	switch kind, arg, _ := strings.Cut(check, " "); kind {
	case "test":
		out, err := tofu(t, dir, nil, "test", "-no-color", "-var-file=testdata/valid.tfvars", "-filter=tests/"+arg+".tftest.hcl")
		if err != nil {
			return fmt.Errorf("tofu test %s: %v\n%s", arg, err, out)
		}
		return nil
	case "plan":
		p, err := savedPlan(t, dir, planChecksArgs...)
		if err != nil {
			return err
		}
		return planChecks(p, dir)
	case "rejects":
		return planRejects(t, dir, "testdata/invalid/"+arg+".tfvars")
	case "packer":
		return checkBuilderType(dir)
	case "encryption":
		p, err := savedPlan(t, dir)
		if err != nil {
			return err
		}
		return checkStateAndPlanEncrypted(t, dir, p)
	default:
		t.Fatalf("unknown check %q", check)
		return nil
	}
}
