package sim

import (
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"
)

// progressBar redraws one line on its writer at most five times a second.
type progressBar struct {
	w           io.Writer
	done, total atomic.Int64
	quit        chan struct{}
	finished    chan struct{}
	stopped     atomic.Bool
}

func newProgressBar(w io.Writer) *progressBar {
	b := &progressBar{w: w, quit: make(chan struct{}), finished: make(chan struct{})}
	go b.loop()
	return b
}

func (b *progressBar) set(done, total int64) { b.done.Store(done); b.total.Store(total) }

func (b *progressBar) loop() {
	defer close(b.finished)
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	start := time.Now()
	draw := func() {
		done, total := b.done.Load(), b.total.Load()
		if total == 0 {
			return
		}
		const width = 40
		filled := int(width * done / total)
		fmt.Fprintf(b.w, "\r[%s%s] %3d%% %d/%d joins %s", strings.Repeat("#", filled), strings.Repeat(".", width-filled),
			100*done/total, done, total, time.Since(start).Round(time.Second))
	}
	for {
		select {
		case <-b.quit:
			draw()
			fmt.Fprintln(b.w)
			return
		case <-t.C:
			draw()
		}
	}
}

// stop draws the last state and ends the loop; it may be called more than once.
func (b *progressBar) stop() {
	if b.stopped.CompareAndSwap(false, true) {
		close(b.quit)
		<-b.finished
	}
}
