package cli

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"
)

// testValues declares one flag of each value type on a fresh application.
type testValues struct {
	app       *kingpin.Application
	u, s      string
	d         time.Duration
	re, empty *regexp.Regexp
	n         int
	r         float64
}

func newTestValues() *testValues {
	v := &testValues{app: kingpin.New("test", "").DefaultEnvars()}
	HTTPURLVar(v.app.Flag("u", ""), &v.u)
	CheckedStringVar(v.app.Flag("s", ""), &v.s, func(s string) error {
		if strings.Contains(s, " ") {
			return errSpace
		}
		return nil
	})
	PositiveDurationVar(v.app.Flag("d", ""), &v.d)
	RegexpVar(v.app.Flag("re", ""), &v.re)
	RegexpVar(v.app.Flag("empty", "").Default("lo"), &v.empty)
	IntAtLeastVar(v.app.Flag("n", "").Default("1"), &v.n, 1)
	RatioVar(v.app.Flag("r", "").Default("0"), &v.r)
	return v
}

var errSpace = errors.New("no spaces")

func TestValuesRefuseBadInput(t *testing.T) {
	tests := []struct {
		args    []string
		env     map[string]string
		wantErr string
	}{
		{args: []string{"--u=ftp://example.com/"}, wantErr: `--u: URL "ftp://example.com/": scheme must be http or https`},
		{args: []string{"--u=/nginx_status"}, wantErr: "scheme must be http or https"},
		{args: []string{"--u=http:///x"}, wantErr: "no host"},
		{args: []string{"--u=http://[::1"}, wantErr: "invalid URL"},
		{args: []string{"--s=a b"}, wantErr: "--s: no spaces"},
		{args: []string{"--d=0s"}, wantErr: `--d: duration "0s" must be positive`},
		{args: []string{"--d=-1s"}, wantErr: "must be positive"},
		{args: []string{"--d=soon"}, wantErr: "invalid duration"},
		{env: map[string]string{"TEST_D": "0s"}, wantErr: "--d: duration \"0s\" must be positive"},
		{args: []string{"--re=eth("}, wantErr: "--re: invalid regular expression"},
		{args: []string{"--n=0"}, wantErr: "--n: must be at least 1, got 0"},
		{args: []string{"--n=x"}, wantErr: "--n: strconv.Atoi"},
		{args: []string{"--r=1.5"}, wantErr: "--r: must be within [0, 1]"},
		{args: []string{"--r=NaN"}, wantErr: "--r: must be within [0, 1]"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			_, err := newTestValues().app.Parse(tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestValuesParsed(t *testing.T) {
	v := newTestValues()
	if _, err := v.app.Parse([]string{"--u=https://jvb.example:8080/x", "--s=ab", "--d=1.5s", "--re=eth.*", "--empty=", "--n=3", "--r=0.25"}); err != nil {
		t.Fatal(err)
	}
	if v.u != "https://jvb.example:8080/x" || v.s != "ab" || v.d != 1500*time.Millisecond || v.n != 3 || v.r != 0.25 {
		t.Errorf("u = %q, s = %q, d = %v, n = %d, r = %v", v.u, v.s, v.d, v.n, v.r)
	}
	if !v.re.MatchString("eth0") || v.re.MatchString("veth0") {
		t.Errorf("regexp %v is not anchored", v.re)
	}
	if v.empty != nil {
		t.Errorf("empty regexp = %v, want nil", v.empty)
	}
}
