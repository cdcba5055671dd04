package fleet

import (
	"context"
	"fmt"
	"io"
	"time"
)

// Run starts the fleet, prints where to look and what to try, and keeps it
// running until ctx ends; then it stops everything.
func Run(ctx context.Context, opts Options) error {
	f, err := Start(ctx, opts)
	if err != nil {
		return err
	}
	defer f.Stop()
	f.PrintGuide(opts.Progress)
	<-ctx.Done()
	fmt.Fprintln(opts.Progress, "\nstopping the fleet ...")
	return nil
}

// PrintGuide writes the URLs of the running fleet and a few things to try,
// as exact commands.
func (f *Fleet) PrintGuide(w io.Writer) {
	if w == nil {
		return
	}
	sel := f.Selectors[0]
	fmt.Fprintf(w, "\nEnsemble demo is up: %d nodes, %d selectors, policy %s.\n\n", len(f.Nodes), len(f.Selectors), f.opts.Policy)
	fmt.Fprintf(w, "  Selector page   %s/\n", sel.URL)
	for _, s := range f.Selectors[1:] {
		fmt.Fprintf(w, "  (replica)       %s/\n", s.URL)
	}
	fmt.Fprintf(w, "  Prometheus      %s/\n", f.PrometheusURL())
	fmt.Fprintf(w, "  Consul UI       http://%s/ui/\n", f.ConsulAddr())
	fmt.Fprintf(w, "  Logs            %s\n\n", f.dir)
	fmt.Fprintln(w, "Try this:")
	fmt.Fprintf(w, "  start a meeting     open %s/my-meeting   (or: curl -s %s/api/v1/rooms/my-meeting)\n", sel.URL, sel.URL)
	if n := f.nodeOrLast(3); n != nil {
		fmt.Fprintf(w, "  drain %s         kill -TERM %d   (no new rooms; it leaves Consul when its meetings end)\n", n.ID, n.SidecarPID())
	}
	if n := f.nodeOrLast(2); n != nil {
		fmt.Fprintf(w, "  kill %s          kill -KILL %d   (gone from the table after one health check)\n", n.ID, n.SidecarPID())
	}
	if n := f.nodeOrLast(1); n != nil {
		fmt.Fprintf(w, "  overload %s      curl -s -X POST %s/emulator/stress -d '{\"stress\":0.95}'\n", n.ID, n.EmulatorURL)
		fmt.Fprintf(w, "  hang %s's JVB    curl -s -X POST %s/emulator/fault -d '{\"fault\":\"hang\"}'\n", n.ID, n.EmulatorURL)
	}
	fmt.Fprintf(w, "  the fleet as JSON   curl -s %s/api/v1/nodes\n", sel.URL)
	fmt.Fprintf(w, "\nPress Ctrl-C to stop everything (it takes a few seconds, started %s).\n", time.Now().Format(time.TimeOnly))
}

// nodeOrLast returns node i (1-based), or the last node of a smaller fleet.
func (f *Fleet) nodeOrLast(i int) *Node {
	if len(f.Nodes) == 0 {
		return nil
	}
	return f.Nodes[min(i, len(f.Nodes))-1]
}
