package firstboot_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ensemble-jitsi/ensemble/internal/firstboot"
	"github.com/ensemble-jitsi/ensemble/internal/firstboot/source"
)

// node is a node's file system under a temp dir.
type node struct{ dir string }

// newNode writes the user-data testdata file name, changed by edit, and an empty outputs list.
func newNode(t *testing.T, name string, edit func(string) string) *node {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("userdata", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	n := &node{dir: t.TempDir()}
	if err := os.WriteFile(filepath.Join(n.dir, "user-data.txt"), []byte(edit(string(b))), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(n.dir, "outputs.json"), []byte("[]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return n
}

func (n *node) options() firstboot.Options {
	o := firstboot.DefaultOptions()
	o.UserData = source.Options{Kind: source.CloudInit, CloudInitFile: filepath.Join(n.dir, "user-data.txt"), Timeout: source.DefaultTimeout}
	o.OutputsFile = filepath.Join(n.dir, "outputs.json")
	o.TLSCertFile = filepath.Join(n.dir, "ssl", "node.crt")
	o.TLSKeyFile = filepath.Join(n.dir, "ssl", "node.key")
	o.TLSKeyGroup = "root"
	o.StatusFile = filepath.Join(n.dir, "run", "firstboot.json")
	o.ACMEDir = filepath.Join(n.dir, "acme")
	o.ACMEWebroot = filepath.Join(n.dir, "webroot")
	o.ACMEReloadCommands = nil
	return o
}
