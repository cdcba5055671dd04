package services

import (
	"bytes"
	"io"
	"regexp"
	"strings"
	"sync"
)

// lineLog writes a child's output to its log file and hands complete lines
// to watchers, so readiness can be a log line (the listen address of a
// server started on port 0).
type lineLog struct {
	w io.Writer

	mu       sync.Mutex
	partial  []byte
	last     []string // the most recent lines, for error messages
	watchers []watcher
}

type watcher struct {
	re *regexp.Regexp
	ch chan []string // buffered: each watcher gets at most one match
}

// tailLines is how many lines lineLog keeps for Process.Tail.
const tailLines = 20

func newLineLog(w io.Writer) *lineLog { return &lineLog{w: w} }

func (l *lineLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, b...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		l.line(line)
	}
	// A failing log file must not make the child's writes fail: it would
	// die of EPIPE on its stdout.
	_, _ = l.w.Write(b)
	return len(b), nil
}

// line must be called with mu held.
func (l *lineLog) line(s string) {
	l.last = append(l.last, s)
	if len(l.last) > tailLines {
		l.last = l.last[len(l.last)-tailLines:]
	}
	kept := l.watchers[:0]
	for _, w := range l.watchers {
		if m := w.re.FindStringSubmatch(s); m != nil {
			w.ch <- m
			continue
		}
		kept = append(kept, w)
	}
	l.watchers = kept
}

// watch returns a channel that receives the submatches of the first line
// matching re written from now on, or already among the recent lines.
func (l *lineLog) watch(re *regexp.Regexp) <-chan []string {
	ch := make(chan []string, 1)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.last {
		if m := re.FindStringSubmatch(s); m != nil {
			ch <- m
			return ch
		}
	}
	l.watchers = append(l.watchers, watcher{re: re, ch: ch})
	return ch
}

func (l *lineLog) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.last, "\n")
}
