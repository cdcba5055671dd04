package exporter

import (
	"fmt"
	"regexp"
)

var validName = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

// Registry is an ordered set of collector Specs with unique names. Callers
// own their Registry; there is no process-wide one, so tests and programs
// can build as many independent exporters as they like.
type Registry struct {
	specs []Spec
	index map[string]int
}

// NewRegistry returns a Registry holding specs, or an error if a name is
// invalid or repeated.
func NewRegistry(specs ...Spec) (*Registry, error) {
	r := &Registry{index: make(map[string]int, len(specs))}
	for _, s := range specs {
		if err := r.Register(s); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Register adds s to the registry.
func (r *Registry) Register(s Spec) error {
	if !validName.MatchString(s.Name) {
		return fmt.Errorf("collector name %q: must match %s", s.Name, validName)
	}
	if s.New == nil {
		return fmt.Errorf("collector %q: Spec.New is nil", s.Name)
	}
	if _, dup := r.index[s.Name]; dup {
		return fmt.Errorf("collector %q registered twice", s.Name)
	}
	if r.index == nil {
		r.index = map[string]int{}
	}
	r.index[s.Name] = len(r.specs)
	r.specs = append(r.specs, s)
	return nil
}

// Lookup returns the Spec registered under name.
func (r *Registry) Lookup(name string) (Spec, bool) {
	i, ok := r.index[name]
	if !ok {
		return Spec{}, false
	}
	return r.specs[i], true
}

// Specs returns the registered Specs in registration order.
func (r *Registry) Specs() []Spec {
	return append([]Spec(nil), r.specs...)
}
