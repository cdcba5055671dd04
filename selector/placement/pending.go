package placement

import "sync/atomic"

// pendingBuckets splits the pending window into this many slots, like Jicofo's RateTracker but
// coarser: an assignment leaves the account between Window·(1-1/16) and Window after it was made,
// which is precise enough for a correction whose cost is an estimate anyway, and keeps an account
// at a fixed 128 bytes with no allocation per assignment.
const pendingBuckets = 16

// A bucket packs the bucket number (time / width, modulo 2^40) it holds in its high 40 bits and
// its assignment count in the low 24, so that adding and reading are single atomic operations:
// policies read every node's account on the hot path, and a mutex there cost more than the rest
// of a pick.
const (
	countBits = 24
	countMask = 1<<countBits - 1
	epochMask = 1<<(64-countBits) - 1
)

// account counts one node's recent assignments in a sliding window of time buckets. It is safe for
// concurrent use without locks.
type account struct {
	buckets [pendingBuckets]atomic.Uint64
}

func (a *account) add(epoch int64) {
	e := uint64(epoch) & epochMask
	b := &a.buckets[e%pendingBuckets]
	for {
		old := b.Load()
		next := e<<countBits | 1
		if old>>countBits == e {
			if old&countMask == countMask {
				return // saturated: 16 million assignments in one bucket
			}
			next = old + 1
		}
		if b.CompareAndSwap(old, next) {
			return
		}
	}
}

// remove undoes one add made in epoch, if its bucket still holds that epoch.
func (a *account) remove(epoch int64) {
	e := uint64(epoch) & epochMask
	b := &a.buckets[e%pendingBuckets]
	for {
		old := b.Load()
		if old>>countBits != e || old&countMask == 0 {
			return
		}
		if b.CompareAndSwap(old, old-1) {
			return
		}
	}
}

// count returns the assignments made in the pendingBuckets buckets ending with epoch.
func (a *account) count(epoch int64) int {
	e := uint64(epoch) & epochMask
	n := 0
	for i := range a.buckets {
		v := a.buckets[i].Load()
		// age in buckets, modulo 2^40 so the wrap-around of the bucket number is harmless
		if age := (e - v>>countBits) & epochMask; age < pendingBuckets {
			n += int(v & countMask)
		}
	}
	return n
}
