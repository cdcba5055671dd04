package imagecheck

import (
	"context"
	"fmt"
	"strings"

	"github.com/ensemble-jitsi/ensemble/internal/lab/services"
)

// QueryIsOne checks that the instant query at the Prometheus server base returns at least one
// series and that every series is 1 (up{job="..."}: every target of the job is up).
func QueryIsOne(base, query string) func(context.Context) error {
	p := &services.Prometheus{URL: strings.TrimSuffix(base, "/")}
	return func(ctx context.Context) error {
		samples, err := p.Query(ctx, query)
		if err != nil {
			return err
		}
		if len(samples) == 0 {
			return fmt.Errorf("query %s: no series", query)
		}
		for _, s := range samples {
			if s.Value != 1 {
				return fmt.Errorf("query %s: %v is %g, want 1", query, s.Metric, s.Value)
			}
		}
		return nil
	}
}
