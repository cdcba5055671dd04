package pulumidts

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Resource is one resource class of the package.
type Resource struct {
	Token   string   // e.g. scaleway:instance/server:Server
	Aliases []string // earlier tokens of the same resource, e.g. scaleway:index/instanceServer:InstanceServer
	Secrets []string // properties the resource marks secret (additionalSecretOutputs)
	Class   []Prop   // readonly outputs of the class
	Args    []Prop   // <Class>Args: the inputs
	State   []Prop   // <Class>State: every property
	Dir     string   // file the resource came from, relative to the package
}

// Package is a parsed Pulumi provider package.
type Package struct {
	Name      string
	Version   string
	Resources []*Resource
	Provider  []Prop // ProviderArgs
	Inputs    map[string][]Prop
	Outputs   map[string][]Prop
}

var (
	reType    = regexp.MustCompile(`__pulumiType = '([^']+)'`)
	reAliases = regexp.MustCompile(`aliases: \[([^\]]*)\]`)
	reAlias   = regexp.MustCompile(`type: "([^"]+)"`)
	reSecrets = regexp.MustCompile(`additionalSecretOutputs: \[([^\]]*)\]`)
	reQuoted  = regexp.MustCompile(`"([^"]+)"`)
	reName    = regexp.MustCompile(`"name": "([^"]+)"`)
	reVersion = regexp.MustCompile(`"version": "([^"]+)"`)
)

// ReadPackage reads an unpacked npm package (the directory holding package.json).
func ReadPackage(dir string) (*Package, error) {
	pj, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return nil, fmt.Errorf("pulumidts: %w", err)
	}
	pkg := &Package{}
	if m := reName.FindSubmatch(pj); m != nil {
		pkg.Name = string(m[1])
	}
	if m := reVersion.FindSubmatch(pj); m != nil {
		pkg.Version = string(m[1])
	}
	for _, kind := range []string{"input", "output"} {
		f, err := parsePath(filepath.Join(dir, "types", kind+".d.ts"))
		if err != nil {
			return nil, err
		}
		if kind == "input" {
			pkg.Inputs = f.Interfaces
		} else {
			pkg.Outputs = f.Interfaces
		}
	}
	pf, err := parsePath(filepath.Join(dir, "provider.d.ts"))
	if err != nil {
		return nil, err
	}
	pkg.Provider = pf.Interfaces["ProviderArgs"]
	if len(pkg.Provider) == 0 {
		return nil, fmt.Errorf("pulumidts: provider.d.ts declares no ProviderArgs")
	}

	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "types" || d.Name() == "node_modules" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".js") || strings.HasSuffix(path, ".map.js") {
			return nil
		}
		js, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		m := reType.FindSubmatch(js)
		if m == nil || filepath.Base(path) == "provider.js" {
			return nil
		}
		r := &Resource{Token: string(m[1])}
		if a := reAliases.FindSubmatch(js); a != nil {
			for _, t := range reAlias.FindAllSubmatch(a[1], -1) {
				r.Aliases = append(r.Aliases, string(t[1]))
			}
		}
		if s := reSecrets.FindSubmatch(js); s != nil {
			for _, t := range reQuoted.FindAllSubmatch(s[1], -1) {
				r.Secrets = append(r.Secrets, string(t[1]))
			}
		}
		dts := strings.TrimSuffix(path, ".js") + ".d.ts"
		f, err := parsePath(dts)
		if err != nil {
			return err
		}
		class := className(r.Token)
		var ok bool
		if r.Class, ok = f.Classes[class]; !ok {
			return fmt.Errorf("pulumidts: %s: no class %s", dts, class)
		}
		r.Args = f.Interfaces[class+"Args"]
		r.State = f.Interfaces[class+"State"]
		r.Dir, _ = filepath.Rel(dir, dts)
		pkg.Resources = append(pkg.Resources, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pulumidts: %w", err)
	}
	sort.Slice(pkg.Resources, func(i, j int) bool { return pkg.Resources[i].Token < pkg.Resources[j].Token })
	return pkg, nil
}

func parsePath(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pulumidts: %w", err)
	}
	f, err := ParseFile(string(b))
	if err != nil {
		return nil, fmt.Errorf("pulumidts: %s: %w", path, err)
	}
	return f, nil
}

// className is the last part of a token: scaleway:instance/server:Server -> Server.
func className(token string) string {
	return token[strings.LastIndex(token, ":")+1:]
}

// Current drops the classes that only exist as deprecated aliases of another class (the bridge
// keeps the old scaleway:index/... classes for compatibility): their token is an alias of a
// class that is kept.
func (pkg *Package) Current() []*Resource {
	alias := map[string]bool{}
	for _, r := range pkg.Resources {
		for _, a := range r.Aliases {
			alias[a] = true
		}
	}
	var out []*Resource
	for _, r := range pkg.Resources {
		if !alias[r.Token] {
			out = append(out, r)
		}
	}
	return out
}
