package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/ensemble-jitsi/ensemble/exporter"
	"github.com/ensemble-jitsi/ensemble/sidecar"
)

// Flag values that refuse bad input while kingpin parses, so the error names the flag.

// durationVar is exporter.PositiveDurationVar with the current value as default.
func durationVar(fc *kingpin.FlagClause, p *time.Duration) {
	exporter.PositiveDurationVar(fc.Default(p.String()), p)
	named(fc)
}

// valueVar binds fc to v.
func valueVar(fc *kingpin.FlagClause, v kingpin.Value) {
	fc.SetValue(v)
	named(fc)
}

// named makes the flag's parse errors name the flag; kingpin reports a value's error alone.
func named(fc *kingpin.FlagClause) {
	m := fc.Model()
	fc.SetValue(namedValue{Value: m.Value, name: m.Name})
}

type namedValue struct {
	kingpin.Value
	name string
}

func (v namedValue) Set(s string) error {
	if err := v.Value.Set(s); err != nil {
		return fmt.Errorf("--%s: %w", v.name, err)
	}
	return nil
}

type publicURL struct{ p *string }

func (v *publicURL) Set(s string) error {
	// Empty is left to Options.Validate: it is allowed when the first-boot verdict failed
	// (the unit passes ${ENSEMBLE_SIDECAR_NODE_PUBLIC_URL}, empty on a node never applied).
	if err := sidecar.ValidatePublicURL(s); s != "" && err != nil {
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
	valueVar(fc.Default(strconv.Itoa(*p)), &intAtLeast{p, lo})
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
