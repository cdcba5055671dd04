package fleet

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// loadGen is the demo's gentle synthetic load: meetings start at a steady
// rate on the node the selector names for each new room, and end after a
// while, so the fleet table moves.
type loadGen struct {
	f      *Fleet
	every  time.Duration
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Meeting lengths and sizes are short and small so a few minutes of demo show
// rooms coming and going.
const (
	minMeeting  = 20 * time.Second
	maxMeeting  = 90 * time.Second
	maxSize     = 8
	maxMeetings = 6 // per node, so the load stays gentle whatever the rate
)

func startLoad(f *Fleet, perSecond float64) *loadGen {
	ctx, cancel := context.WithCancel(context.Background())
	g := &loadGen{f: f, every: time.Duration(float64(time.Second) / perSecond), cancel: cancel}
	g.wg.Add(1)
	go g.run(ctx)
	return g
}

func (g *loadGen) run(ctx context.Context) {
	defer g.wg.Done()
	t := time.NewTicker(g.every)
	defer t.Stop()
	var live atomic.Int64
	for i := 1; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if live.Load() >= int64(maxMeetings*len(g.f.Nodes)) {
			continue
		}
		room := fmt.Sprintf("load-%d", i)
		sel := g.f.Selectors[i%len(g.f.Selectors)]
		pl, err := sel.Room(ctx, room)
		if err != nil {
			g.f.opts.Logger.Debug("load: no placement", "room", room, "err", err)
			continue
		}
		n := g.f.Node(pl.Node)
		if n == nil {
			g.f.opts.Logger.Warn("load: selector named an unknown node", "room", room, "node", pl.Node)
			continue
		}
		id, err := n.StartConference(ctx, 2+rand.IntN(maxSize-1))
		if err != nil {
			g.f.opts.Logger.Debug("load: start conference", "node", n.ID, "err", err)
			continue
		}
		live.Add(1)
		hold := minMeeting + rand.N(maxMeeting-minMeeting)
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			select {
			case <-ctx.Done():
			case <-time.After(hold):
			}
			// End the meeting even when stopping, so drains finish at once.
			ectx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := n.EndConference(ectx, id); err != nil {
				g.f.opts.Logger.Debug("load: end conference", "node", n.ID, "err", err)
			}
			live.Add(-1)
		}()
	}
}

func (g *loadGen) stop() {
	g.cancel()
	g.wg.Wait()
}
