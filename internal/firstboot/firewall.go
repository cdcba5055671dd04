package firstboot

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/firstboot/atomicfile"
)

// checkFirewall runs nft -c on the rendered outputs that are input-chain rule files (those
// whose path matches NftFragments), before anything is written: /etc/nftables.conf includes
// them inside its input chain, and one rule nft refuses makes the whole ruleset fail to load
// after the unit has already said ok. The fragments are checked inside a chain of a
// throw-away table, the way the real configuration includes them.
func (o *Options) checkFirewall(ctx context.Context, files []atomicfile.File) error {
	if o.NftFragments == "" {
		return nil
	}
	var frags []atomicfile.File
	for _, f := range files {
		if ok, err := filepath.Match(o.NftFragments, f.Path); err != nil {
			return fmt.Errorf("firewall fragment pattern %q: %w", o.NftFragments, err)
		} else if ok {
			frags = append(frags, f)
		}
	}
	if len(frags) == 0 {
		return nil
	}
	dir, err := os.MkdirTemp("", "ensemble-firstboot-nft-")
	if err != nil {
		return fmt.Errorf("checking the firewall rules: %w", err)
	}
	defer os.RemoveAll(dir)
	var ruleset strings.Builder
	ruleset.WriteString("table inet ensemble_firstboot_check {\n\tchain input {\n")
	copies := make([]string, len(frags))
	for i, f := range frags {
		copies[i] = filepath.Join(dir, fmt.Sprintf("%d-%s", i, filepath.Base(f.Path)))
		if err := os.WriteFile(copies[i], f.Data, 0o600); err != nil {
			return fmt.Errorf("checking the firewall rules: %w", err)
		}
		fmt.Fprintf(&ruleset, "\t\tinclude %q\n", copies[i])
	}
	ruleset.WriteString("\t}\n}\n")
	main := filepath.Join(dir, "check.nft")
	if err := os.WriteFile(main, []byte(ruleset.String()), 0o600); err != nil {
		return fmt.Errorf("checking the firewall rules: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(cctx, o.NftCommand, "-c", "-f", main).CombinedOutput()
	if err != nil {
		// nft names the temporary copies; say which output each one is.
		msg := strings.TrimSpace(string(out))
		names := make([]string, len(frags))
		for i, f := range frags {
			names[i] = f.Path
			msg = strings.ReplaceAll(msg, copies[i], f.Path)
		}
		return fmt.Errorf("the rendered firewall rules (%s) do not load, nothing was written: %s -c: %w: %s",
			strings.Join(names, ", "), o.NftCommand, err, msg)
	}
	return nil
}
