package fleet

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ensemble-jitsi/ensemble/internal/lab/services"
)

// preflight finds every program and file Start needs, so that a missing one fails before
// anything has started rather than at the step that uses it. A relative PrometheusConfig that
// does not exist from the working directory is looked up from BinDir's parent: make build puts
// the binaries in the repository's bin/, so the demo also works when run from elsewhere.
func (o *Options) preflight() error {
	var errs []error
	for _, bin := range []string{"ensemble-jvbemu", "ensemble-sidecar", "ensemble-selector"} {
		if err := executable(filepath.Join(o.BinDir, bin)); err != nil {
			errs = append(errs, fmt.Errorf("%w (build the binaries first: make build)", err))
		}
	}
	if _, err := services.ConsulPath(); err != nil {
		errs = append(errs, err)
	}
	for _, prog := range []string{"nginx", "prometheus"} {
		if _, err := exec.LookPath(prog); err != nil {
			errs = append(errs, fmt.Errorf("%s not found (run scripts/install-deps.sh): %w", prog, err))
		}
	}
	if _, err := os.Stat(o.PrometheusConfig); err != nil && !filepath.IsAbs(o.PrometheusConfig) {
		alt := filepath.Join(o.BinDir, "..", o.PrometheusConfig)
		if _, altErr := os.Stat(alt); altErr == nil {
			o.PrometheusConfig = alt
		} else {
			errs = append(errs, fmt.Errorf("prometheus config: %w (nor %s)", err, alt))
		}
	} else if err != nil {
		errs = append(errs, fmt.Errorf("prometheus config: %w", err))
	}
	if avail, err := memAvailable(); err == nil {
		errs = append(errs, nodesFit(o.Nodes, avail))
	}
	return errors.Join(errs...)
}

// NodeRSS is what one emulated node holds in memory, rounded up: its JVB emulator (10.9 MiB
// RSS), nginx master and worker (12.7 MiB together) and sidecar (19.6 MiB), 43 MiB, measured
// with 100 nodes under the demo's load in December 2026 (the whole demo: 4.7 GiB, of which
// Consul, Prometheus, two selectors and the supervisor 0.37 GiB). RSS counts pages the
// processes of one binary share once in each, so this overstates (PSS: about 20 MiB a node).
const NodeRSS = 45 << 20

// nodesFit refuses more nodes than half the available memory holds at NodeRSS each; the other
// half is left for Consul, Prometheus, the selectors and the machine.
func nodesFit(nodes int, available uint64) error {
	if most := available / 2 / NodeRSS; uint64(nodes) > most {
		return fmt.Errorf("%d nodes need about %d MiB (%d MiB each), more than half of the %d MiB available: at most %d nodes here",
			nodes, uint64(nodes)*NodeRSS>>20, NodeRSS>>20, available>>20, most)
	}
	return nil
}

// memAvailable returns MemAvailable from /proc/meminfo, in bytes.
func memAvailable() (uint64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			kib, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kib << 10, err
		}
	}
	return 0, errors.New("/proc/meminfo has no MemAvailable")
}

// executable reports whether path is a regular file someone may execute.
func executable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}
