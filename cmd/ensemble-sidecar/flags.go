package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/ensemble-jitsi/ensemble/sidecar"
)

// Flag values that refuse bad input while kingpin parses, so the error names the flag.

type positiveDuration struct{ p *time.Duration }

func durationVar(fc *kingpin.FlagClause, p *time.Duration) {
	fc.Default(p.String()).SetValue(&positiveDuration{p})
}

func (v *positiveDuration) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	if d <= 0 {
		return fmt.Errorf("must be a positive duration, got %v", d)
	}
	*v.p = d
	return nil
}

func (v *positiveDuration) String() string { return v.p.String() }

type publicURL struct{ p *string }

func (v *publicURL) Set(s string) error {
	if err := sidecar.ValidatePublicURL(s); err != nil {
		return err
	}
	*v.p = s
	return nil
}

func (v *publicURL) String() string { return *v.p }

// intAtLeast accepts integers not below lo.
type intAtLeast struct {
	p  *int
	lo int
}

func intVar(fc *kingpin.FlagClause, p *int, lo int) {
	fc.Default(strconv.Itoa(*p)).SetValue(&intAtLeast{p, lo})
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
