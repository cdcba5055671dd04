package testenv

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// Lines returns the lines of the test-case file at path, leaving out empty
// lines and #-comments. Lines are not trimmed: a leading tab stands for an
// empty first field. A file that cannot be read, or holds no case, fails t.
func Lines(t testing.TB, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			lines = append(lines, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(lines) == 0 {
		t.Fatalf("%s: no test cases", path)
	}
	return lines
}
