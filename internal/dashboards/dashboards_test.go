package dashboards

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The committed deploy/grafana/*.json are what the code generates (run
// make dashboards after changing a panel).
func TestCommittedJSONMatchesGenerated(t *testing.T) {
	for _, d := range All() {
		got, err := d.JSON()
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join("..", "..", "deploy", "grafana", d.File))
		if err != nil {
			t.Fatalf("%v (run make dashboards)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("deploy/grafana/%s differs from what internal/dashboards generates: run make dashboards", d.File)
		}
	}
}

// Every panel has a query, every query is in the JSON, and the Grafana
// variables are the ones Expand knows.
func TestPanels(t *testing.T) {
	for _, d := range All() {
		b, err := d.JSON()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range d.Rows {
			for _, p := range r.Panels {
				if len(p.Queries) == 0 {
					t.Errorf("%s: panel %q has no query", d.UID, p.Title)
				}
			}
		}
		for _, q := range d.Queries() {
			if !strings.Contains(string(b), strings.ReplaceAll(q.Expr, `"`, `\"`)) {
				t.Errorf("%s: query %s not in the JSON", d.UID, q.Expr)
			}
			if e := Expand(q.Expr, "1m"); strings.Contains(e, "$") {
				t.Errorf("%s: %s keeps a variable after Expand: %s", d.UID, q.Expr, e)
			}
		}
	}
}
