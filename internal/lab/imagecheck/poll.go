package imagecheck

import (
	"context"
	"fmt"
	"time"
)

// AttemptTimeout bounds one try of a check (its HTTP requests), as curl --max-time did.
const AttemptTimeout = 5 * time.Second

// Until runs check until it returns nil, every interval, for at most timeout. The first try
// always runs, so a timeout of 0 is a single check. The error is the last try's, with how long
// the check was retried.
func Until(ctx context.Context, timeout, interval time.Duration, check func(context.Context) error) error {
	deadline := time.Now().Add(timeout)
	for tries := 1; ; tries++ {
		attempt, cancel := context.WithTimeout(ctx, AttemptTimeout)
		err := check(attempt)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().Add(interval).After(deadline) {
			if tries == 1 {
				return err
			}
			return fmt.Errorf("still failing after %d tries in %s: %w", tries, timeout, err)
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (last try: %w)", ctx.Err(), err)
		case <-t.C:
		}
	}
}
