package jvbemu

import "fmt"

// Fault is a way the emulated bridge misbehaves on its JVB API (never on
// the /emulator/ control API).
type Fault int

// The faults a test or the demo can switch on.
const (
	// None answers normally.
	None Fault = iota
	// Hang never answers; the handler returns when the client gives up.
	Hang
	// Slow answers normally after Options.SlowDelay.
	Slow
	// Error500 answers 500 with a plain-text body.
	Error500
	// Garbage answers 200 application/json with a body that is not JSON.
	Garbage
	// Huge streams Options.HugeBytes of a never-ending JSON string.
	Huge
	// RESTDisabled answers 404 on /colibri/*, as JVB's ConfigFilter does
	// when videobridge.apis.rest.enabled=false; /about/* still work.
	RESTDisabled
)

var faultNames = [...]string{
	None: "none", Hang: "hang", Slow: "slow", Error500: "error500",
	Garbage: "garbage", Huge: "huge", RESTDisabled: "rest-disabled",
}

// String returns the fault's name in the control API.
func (f Fault) String() string {
	if f < 0 || int(f) >= len(faultNames) {
		return fmt.Sprintf("Fault(%d)", int(f))
	}
	return faultNames[f]
}

// ParseFault maps a control-API name to its Fault.
func ParseFault(name string) (Fault, error) {
	for f, n := range faultNames {
		if n == name {
			return Fault(f), nil
		}
	}
	return None, fmt.Errorf("unknown fault %q (want one of %v)", name, faultNames)
}
