// Command ensemble-dashboards writes Ensemble's Grafana dashboards
// (internal/dashboards) as JSON files, by default into deploy/grafana.
package main

import (
	"context"
	"io"
	"os"
	"path/filepath"

	"github.com/ensemble-jitsi/ensemble/internal/cli"
	"github.com/ensemble-jitsi/ensemble/internal/dashboards"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	app := cli.New("ensemble-dashboards", "Write Ensemble's Grafana dashboards as JSON files.", stdout, stderr)
	dir := app.Flag("out-dir", "Directory the dashboards' JSON files are written to.").Default("deploy/grafana").String()
	return app.Run(args, func(context.Context, cli.Session) error {
		for _, d := range dashboards.All() {
			b, err := d.JSON()
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(*dir, d.File), b, 0o644); err != nil {
				return err
			}
		}
		return nil
	})
}
