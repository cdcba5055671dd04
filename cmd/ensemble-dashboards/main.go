// Command ensemble-dashboards writes Ensemble's Grafana dashboards
// (internal/dashboards) as JSON files, by default into deploy/grafana.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ensemble-jitsi/ensemble/internal/dashboards"
)

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("ensemble-dashboards", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("out-dir", "deploy/grafana", "Directory the dashboards' JSON files are written to.")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	for _, d := range dashboards.All() {
		b, err := d.JSON()
		if err != nil {
			fmt.Fprintf(stderr, "ensemble-dashboards: %v\n", err)
			return 1
		}
		if err := os.WriteFile(filepath.Join(*dir, d.File), b, 0o644); err != nil {
			fmt.Fprintf(stderr, "ensemble-dashboards: %v\n", err)
			return 1
		}
	}
	return 0
}
