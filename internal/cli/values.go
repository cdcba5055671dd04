package cli

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/alecthomas/kingpin/v2"
)

// Flag values that refuse bad input while kingpin parses, so a bad flag or environment
// variable stops the command before it starts anything, and the error names the flag.
// Each binds the clause to *p; give the default on the clause (fc.Default(...)).

// PositiveDurationVar accepts durations greater than zero.
func PositiveDurationVar(fc *kingpin.FlagClause, p *time.Duration) {
	bind(fc, &positiveDuration{p})
}

// HTTPURLVar accepts absolute http or https URLs with a host.
func HTTPURLVar(fc *kingpin.FlagClause, p *string) {
	bind(fc, &checkedString{p, ValidateHTTPURL})
}

// CheckedStringVar accepts the strings check accepts.
func CheckedStringVar(fc *kingpin.FlagClause, p *string, check func(string) error) {
	bind(fc, &checkedString{p, check})
}

// RegexpVar accepts a regular expression, anchored at both ends (a device pattern "eth.*" must
// not match "veth0"); the empty string leaves *p nil (no filter).
func RegexpVar(fc *kingpin.FlagClause, p **regexp.Regexp) {
	bind(fc, &regexpValue{p: p})
}

// IntAtLeastVar accepts integers not below lo.
func IntAtLeastVar(fc *kingpin.FlagClause, p *int, lo int) {
	bind(fc, &intAtLeast{p, lo})
}

// RatioVar accepts numbers within [0, 1].
func RatioVar(fc *kingpin.FlagClause, p *float64) {
	bind(fc, &ratio{p})
}

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

// bind sets v as fc's value, wrapped so that its parse errors name the flag (kingpin reports a
// value's error alone).
func bind(fc *kingpin.FlagClause, v kingpin.Value) {
	fc.SetValue(named{Value: v, name: fc.Model().Name})
}

type named struct {
	kingpin.Value
	name string
}

func (v named) Set(s string) error {
	if err := v.Value.Set(s); err != nil {
		return fmt.Errorf("--%s: %w", v.name, err)
	}
	return nil
}

type positiveDuration struct{ p *time.Duration }

func (v *positiveDuration) Set(s string) error {
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

func (v *positiveDuration) String() string { return v.p.String() }

type checkedString struct {
	p     *string
	check func(string) error
}

func (v *checkedString) Set(s string) error {
	if err := v.check(s); err != nil {
		return err
	}
	*v.p = s
	return nil
}

func (v *checkedString) String() string { return *v.p }

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

type intAtLeast struct {
	p  *int
	lo int
}

func (v *intAtLeast) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return err
	}
	if n < v.lo {
		return fmt.Errorf("must be at least %d, got %d", v.lo, n)
	}
	*v.p = n
	return nil
}

func (v *intAtLeast) String() string { return strconv.Itoa(*v.p) }

type ratio struct{ p *float64 }

func (v *ratio) Set(s string) error {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return err
	}
	if !(f >= 0 && f <= 1) {
		return fmt.Errorf("must be within [0, 1], got %v", f)
	}
	*v.p = f
	return nil
}

func (v *ratio) String() string { return strconv.FormatFloat(*v.p, 'g', -1, 64) }
