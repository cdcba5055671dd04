package nginx

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseStubStatus(t *testing.T) {
	tests := []struct {
		file    string
		want    StubStatus
		wantErr string
	}{
		{file: "nginx-1.22.txt", want: StubStatus{Active: 43, Accepted: 18234, Handled: 18234, Requests: 95321, Reading: 0, Writing: 7, Waiting: 36}},
		{file: "no-spaces.txt", want: StubStatus{Active: 1, Accepted: 1, Handled: 1, Requests: 1, Writing: 1}},
		{file: "crlf.txt", want: StubStatus{Active: 2, Accepted: 5, Handled: 5, Requests: 9, Writing: 1, Waiting: 1}},
		{file: "huge-counters.txt", want: StubStatus{Active: 18446744073709551615, Accepted: 9999999999999999999, Handled: 9999999999999999999, Requests: 9999999999999999999}},
		{file: "html-error.html", wantErr: `line 1 "<html>": word 1 is "<html>", want "Active"`},
		{file: "three-lines.txt", wantErr: "3 lines, want 4"},
		{file: "missing-word.txt", wantErr: "line 2"},
		{file: "negative.txt", wantErr: `word 2 is "-1", want a non-negative integer`},
		{file: "trailing-text.txt", wantErr: "unexpected text after line 4"},
		{file: "extra-number.txt", wantErr: "4 words, want 3"},
		{file: "empty.txt", wantErr: "0 lines, want 4"},
		{file: "overflow.txt", wantErr: `word 1 is "18446744073709551616"`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseStubStatus(b)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// format writes s as nginx's stub_status module does.
func format(s StubStatus) string {
	return fmt.Sprintf("Active connections: %d \nserver accepts handled requests\n %d %d %d \nReading: %d Writing: %d Waiting: %d \n",
		s.Active, s.Accepted, s.Handled, s.Requests, s.Reading, s.Writing, s.Waiting)
}

// FuzzStubStatus checks that parsing never panics and that whatever parses
// survives a round trip through nginx's own format.
func FuzzStubStatus(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := ParseStubStatus(body)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "stub_status") {
				t.Fatalf("error without context: %v", err)
			}
			return
		}
		again, err := ParseStubStatus([]byte(format(s)))
		if err != nil || again != s {
			t.Fatalf("round trip of %+v: %+v, %v", s, again, err)
		}
	})
}
