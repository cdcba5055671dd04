package exporter

import "time"

// workerIdle is how long a worker waits for more work before it exits;
// longer than any sensible scrape interval, so a scraped exporter keeps its
// workers.
const workerIdle = 5 * time.Minute

// workers runs functions on goroutines kept between scrapes. A new
// goroutine starts with a small stack and grows it, by copying, every
// time a scrape runs a collector on it; that was a tenth of a scrape's CPU.
type workers struct {
	// work is unbuffered: a send succeeds only when a worker is idle.
	work chan func()
}

func newWorkers() workers { return workers{work: make(chan func())} }

// run runs f on an idle worker, or on a new one if none is idle.
func (w workers) run(f func()) {
	select {
	case w.work <- f:
	default:
		go w.loop(f)
	}
}

func (w workers) loop(f func()) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		f()
		f = nil // let the finished work's closure go
		idle.Reset(workerIdle)
		select {
		case f = <-w.work:
		case <-idle.C:
			return
		}
	}
}
