package rooms

import (
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
)

func TestNormalize(t *testing.T) {
	n := 0
	for _, line := range testenv.Lines(t, "testdata/names.txt") {
		rawIn, want, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("bad line %q", line)
		}
		in, err := strconv.Unquote(`"` + rawIn + `"`)
		if err != nil {
			t.Fatalf("bad input %q: %v", rawIn, err)
		}
		n++
		t.Run(rawIn, func(t *testing.T) {
			got, err := Normalize(in)
			if frag, isErr := strings.CutPrefix(want, "!"); isErr {
				if !errors.Is(err, ErrInvalidName) || !strings.Contains(err.Error(), frag) {
					t.Fatalf("Normalize(%q) = %q, %v; want an ErrInvalidName mentioning %q", in, got, err, frag)
				}
				return
			}
			if err != nil || got != want {
				t.Fatalf("Normalize(%q) = %q, %v; want %q", in, got, err, want)
			}
		})
	}
	if n < 10 {
		t.Fatalf("only %d cases read", n)
	}
}

// FuzzNormalize checks the properties every accepted name has: canonical (idempotent), the
// same name up to ASCII case, bounded, and made of the allowed characters only.
func FuzzNormalize(f *testing.F) {
	f.Fuzz(func(t *testing.T, in string) {
		got, err := Normalize(in)
		if err != nil {
			if !errors.Is(err, ErrInvalidName) {
				t.Fatalf("error %v does not wrap ErrInvalidName", err)
			}
			return
		}
		if !strings.EqualFold(got, in) || len(got) != len(in) {
			t.Fatalf("Normalize(%q) = %q: not the same name", in, got)
		}
		if again, err := Normalize(got); err != nil || again != got {
			t.Fatalf("Normalize(%q) = %q, %v: not idempotent", got, again, err)
		}
		if len(got) == 0 || len(got) > MaxNameLen {
			t.Fatalf("accepted %d bytes", len(got))
		}
		for _, c := range []byte(got) {
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				t.Fatalf("accepted %q with %q", got, c)
			}
		}
	})
}

func TestNewName(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	seen := map[string]bool{}
	for range 2000 {
		name := NewName(r)
		if got, err := Normalize(name); err != nil || got != name {
			t.Fatalf("generated %q is not a canonical room name: %q, %v", name, got, err)
		}
		if strings.Count(name, "-") != 4 {
			t.Fatalf("generated %q is not four words and a number", name)
		}
		seen[name] = true
	}
	// 2,000 draws from ~1.6e9 names: a repeat is a 0.1 % event, more than one means a broken generator.
	if len(seen) < 1999 {
		t.Fatalf("only %d distinct names in 2000 draws", len(seen))
	}
	a, b := rand.New(rand.NewPCG(5, 5)), rand.New(rand.NewPCG(5, 5))
	if NewName(a) != NewName(b) {
		t.Fatal("same seed, different names")
	}
	for _, list := range [][64]string{adjectives, nouns, verbs, adverbs} {
		uniq := map[string]bool{}
		for _, w := range list {
			uniq[w] = true
		}
		if len(uniq) != len(list) {
			t.Fatalf("word list has duplicates: %v", list)
		}
	}
}
