// Package outputs renders the files a node's user-data decides: outputs.json (written by the
// Ansible roles, which own every configuration format) lists Go text/templates and where
// their results go, with mode and owner.
package outputs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"

	"github.com/ensemble-jitsi/ensemble/internal/firstboot/atomicfile"
)

// DefaultPath is where the images install the list.
const DefaultPath = "/etc/ensemble/firstboot/outputs.json"

// maxListSize and maxTemplateSize bound what is read; both are written by the image build.
const (
	maxListSize     = 1 << 20
	maxTemplateSize = 1 << 20
)

// Output is one entry of outputs.json.
type Output struct {
	// Template is the template file; a relative path is relative to outputs.json.
	Template string `json:"template"`
	// Dest is the absolute path of the rendered file.
	Dest string `json:"dest"`
	// Mode is the octal file mode, e.g. "0640".
	Mode string `json:"mode"`
	// Owner and Group are user and group names; empty means root.
	Owner string `json:"owner"`
	Group string `json:"group"`
}

// Load reads and checks outputs.json. Unknown keys, a relative or repeated dest, and a bad
// mode are errors.
func Load(path string) ([]Output, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("outputs: %w", err)
	}
	defer f.Close()
	b, err := readLimited(f, maxListSize)
	if err != nil {
		return nil, fmt.Errorf("outputs: %s: %w", path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var list []Output
	if err := dec.Decode(&list); err != nil {
		return nil, fmt.Errorf("outputs: %s: %w", path, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("outputs: %s: text after the list", path)
	}
	dests := map[string]bool{}
	for i := range list {
		o := &list[i]
		where := fmt.Sprintf("outputs: %s: entry %d", path, i)
		if o.Template == "" || o.Dest == "" || o.Mode == "" {
			return nil, fmt.Errorf("%s: template, dest and mode are required", where)
		}
		if !filepath.IsAbs(o.Template) {
			o.Template = filepath.Join(filepath.Dir(path), o.Template)
		}
		if !filepath.IsAbs(o.Dest) || filepath.Clean(o.Dest) != o.Dest {
			return nil, fmt.Errorf("%s: dest %q must be a clean absolute path", where, o.Dest)
		}
		if dests[o.Dest] {
			return nil, fmt.Errorf("%s: dest %s is listed twice", where, o.Dest)
		}
		dests[o.Dest] = true
		if _, err := parseMode(o.Mode); err != nil {
			return nil, fmt.Errorf("%s (%s): %w", where, o.Dest, err)
		}
	}
	return list, nil
}

func parseMode(s string) (fs.FileMode, error) {
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil || m > 0o7777 || len(s) < 3 {
		return 0, fmt.Errorf("mode %q is not an octal file mode such as \"0640\"", s)
	}
	mode := fs.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		mode |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	return mode, nil
}

// Funcs are the template functions: quote makes a double-quoted string literal that JSON,
// HCL, Lua and nftables read alike; join is strings.Join.
func Funcs() template.FuncMap {
	return template.FuncMap{"quote": quote, "join": strings.Join}
}

func quote(s string) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// Render renders every output with data and resolves its owner, without writing anything,
// so that one broken template leaves every file as it was.
func Render(list []Output, data any) ([]atomicfile.File, error) {
	files := make([]atomicfile.File, 0, len(list))
	for _, o := range list {
		f, err := render(o, data)
		if err != nil {
			return nil, fmt.Errorf("outputs: %s: %w", o.Dest, err)
		}
		files = append(files, f)
	}
	return files, nil
}

func render(o Output, data any) (atomicfile.File, error) {
	tf, err := os.Open(o.Template)
	if err != nil {
		return atomicfile.File{}, err
	}
	defer tf.Close()
	text, err := readLimited(tf, maxTemplateSize)
	if err != nil {
		return atomicfile.File{}, fmt.Errorf("%s: %w", o.Template, err)
	}
	t, err := template.New(filepath.Base(o.Template)).Funcs(Funcs()).Option("missingkey=error").Parse(string(text))
	if err != nil {
		return atomicfile.File{}, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return atomicfile.File{}, err
	}
	mode, _ := parseMode(o.Mode) // checked by Load
	uid, gid, err := Owner(o.Owner, o.Group)
	if err != nil {
		return atomicfile.File{}, err
	}
	return atomicfile.File{Path: o.Dest, Data: b.Bytes(), Mode: mode, UID: uid, GID: gid}, nil
}

// Owner resolves user and group names (empty: root) to ids.
func Owner(owner, group string) (uid, gid int, err error) {
	uid, gid = 0, 0
	if owner != "" && owner != "root" {
		u, err := user.Lookup(owner)
		if err != nil {
			return 0, 0, fmt.Errorf("owner: %w", err)
		}
		if uid, err = strconv.Atoi(u.Uid); err != nil {
			return 0, 0, fmt.Errorf("owner %s: uid %q", owner, u.Uid)
		}
	}
	if group != "" && group != "root" {
		g, err := user.LookupGroup(group)
		if err != nil {
			return 0, 0, fmt.Errorf("group: %w", err)
		}
		if gid, err = strconv.Atoi(g.Gid); err != nil {
			return 0, 0, fmt.Errorf("group %s: gid %q", group, g.Gid)
		}
	}
	return uid, gid, nil
}

// Apply renders every output and writes those whose content, mode or owner differ. It
// returns the paths it changed, in list order.
func Apply(list []Output, data any) ([]string, error) {
	files, err := Render(list, data)
	if err != nil {
		return nil, err
	}
	return WriteAll(files)
}

// WriteAll writes files in order and returns the paths that changed; it stops at the first
// error, returning what it changed so far.
func WriteAll(files []atomicfile.File) ([]string, error) {
	var changed []string
	for _, f := range files {
		c, err := atomicfile.Write(f)
		if c {
			changed = append(changed, f.Path)
		}
		if err != nil {
			return changed, err
		}
	}
	return changed, nil
}

func readLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return b, nil
}
