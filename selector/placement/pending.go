package placement

import "sync"

// pendingBuckets splits the pending window into this many slots, like Jicofo's RateTracker but
// coarser: an assignment leaves the account between Window·(1-1/16) and Window after it was made,
// which is precise enough for a correction whose cost is an estimate anyway, and keeps an account
// at a fixed ~200 bytes with no allocation per assignment.
const pendingBuckets = 16

// account counts one node's recent assignments in a sliding window of time buckets.
type account struct {
	mu     sync.Mutex
	counts [pendingBuckets]uint32
	epochs [pendingBuckets]int64 // bucket number (time / width) each slot currently holds
}

func (a *account) add(epoch int64) {
	i := int(uint64(epoch) % pendingBuckets)
	a.mu.Lock()
	if a.epochs[i] != epoch {
		a.epochs[i], a.counts[i] = epoch, 0
	}
	a.counts[i]++
	a.mu.Unlock()
}

// count returns the assignments made in the pendingBuckets buckets ending with epoch.
func (a *account) count(epoch int64) int {
	n := 0
	a.mu.Lock()
	for i := range a.counts {
		if e := a.epochs[i]; e <= epoch && e > epoch-pendingBuckets {
			n += int(a.counts[i])
		}
	}
	a.mu.Unlock()
	return n
}
