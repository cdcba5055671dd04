package exporter

import (
	"sync"
	"testing"
)

// Work runs whether or not a worker is idle: busy workers never hold up
// new work, and idle ones take it.
func TestWorkersRunEverything(t *testing.T) {
	w := newWorkers()
	release := make(chan struct{})
	var blocked sync.WaitGroup
	for range 3 { // three workers stay busy
		blocked.Add(1)
		w.run(func() {
			defer blocked.Done()
			<-release
		})
	}
	for round := range 3 {
		var wg sync.WaitGroup
		ran := make([]bool, 20)
		for i := range ran {
			wg.Add(1)
			w.run(func() {
				defer wg.Done()
				ran[i] = true
			})
		}
		wg.Wait()
		for i, ok := range ran {
			if !ok {
				t.Fatalf("round %d: work %d never ran", round, i)
			}
		}
	}
	close(release)
	blocked.Wait()
}
