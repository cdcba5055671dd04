package firstboot

import (
	"context"
	"fmt"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/firstboot/certs"
)

// acmeRetryMax caps the wait between two first-boot orders.
const acmeRetryMax = time.Minute

// obtainRetrying orders the node's first certificate, retrying with doubling waits for
// ACMERetryFor. Without a certificate nothing on the node can start, and the usual causes
// pass on their own: the node's DNS record is created in parallel with the server (the CA
// sees no address for the name yet), or the network is not fully up. The unit's
// TimeoutStartSec must exceed ACMERetryFor.
func (o *Options) obtainRetrying(ctx context.Context, a *certs.ACME, name string) (chain, key []byte, err error) {
	// Real time, not o.now(): that clock judges certificates and may be fixed in tests.
	deadline := time.Now().Add(o.ACMERetryFor)
	wait := o.ACMERetryMin
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, o.ACMETimeout)
		chain, key, err = a.Obtain(actx, name)
		cancel()
		if err == nil {
			if attempt > 1 {
				o.logger().Info("ACME certificate obtained after retries", "name", name, "attempts", attempt)
			}
			return chain, key, nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, nil, fmt.Errorf("%w (gave up after %d attempts in %v)", err, attempt, o.ACMERetryFor)
		}
		wait = min(wait, left)
		o.logger().Warn("ACME order failed; retrying", "name", name, "attempt", attempt, "retry_in", wait, "err", err)
		select {
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("%w (stopped while waiting to retry: %w)", err, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, acmeRetryMax)
	}
}
