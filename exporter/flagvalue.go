package exporter

import (
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/alecthomas/kingpin/v2"
)

// HTTPURLVar binds fc to *p and rejects, at parse time, anything but an
// absolute http or https URL with a host.
func HTTPURLVar(fc *kingpin.FlagClause, p *string) {
	fc.SetValue(&httpURLValue{p: p})
}

type httpURLValue struct{ p *string }

func (v *httpURLValue) Set(s string) error {
	if err := ValidateHTTPURL(s); err != nil {
		return err
	}
	*v.p = s
	return nil
}

func (v *httpURLValue) String() string { return *v.p }

// ValidateHTTPURL reports whether s is an absolute http(s) URL with a host.
func ValidateHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("invalid URL %q: %w", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("URL %q: scheme must be http or https", s)
	}
	if u.Host == "" {
		return fmt.Errorf("URL %q: no host", s)
	}
	return nil
}

// PositiveDurationVar binds fc to *p and rejects durations that are not
// greater than zero at parse time.
func PositiveDurationVar(fc *kingpin.FlagClause, p *time.Duration) {
	fc.SetValue(&positiveDurationValue{p: p})
}

type positiveDurationValue struct{ p *time.Duration }

func (v *positiveDurationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q: %w", s, err)
	}
	if d <= 0 {
		return fmt.Errorf("duration %q must be positive", s)
	}
	*v.p = d
	return nil
}

func (v *positiveDurationValue) String() string { return v.p.String() }

// RegexpVar binds fc to *p. The expression is anchored at both ends (a
// device pattern "eth.*" must not match "veth0") and compiled at parse time;
// the empty string leaves *p nil.
func RegexpVar(fc *kingpin.FlagClause, p **regexp.Regexp) {
	fc.SetValue(&regexpValue{p: p})
}

type regexpValue struct {
	p   **regexp.Regexp
	src string
}

func (v *regexpValue) Set(s string) error {
	if s == "" {
		// Empty means "no filter", not "match only the empty string".
		*v.p, v.src = nil, s
		return nil
	}
	re, err := regexp.Compile("^(?:" + s + ")$")
	if err != nil {
		return fmt.Errorf("invalid regular expression %q: %w", s, err)
	}
	*v.p, v.src = re, s
	return nil
}

func (v *regexpValue) String() string { return v.src }
