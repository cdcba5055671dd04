package cli

// The flag tables of README.md are generated from the binaries themselves
// (make docs), so a docs test fails when they drift.

import (
	"fmt"
	"io"
	"strings"

	"github.com/alecthomas/kingpin/v2"
)

// flagDocFlag is the hidden flag that prints the flag table and ends the command.
const flagDocFlag = "help-flags-markdown"

// registerFlagDoc adds the hidden --help-flags-markdown to app: it writes
// flagTable(app) to w and calls done(0), as kingpin's --help calls its
// Terminate function. docDefaults is read when the flag is parsed; it
// replaces defaults that depend on the machine (the host name, the number
// of CPUs) with words, so the table is the same wherever it is generated.
func registerFlagDoc(app *kingpin.Application, w io.Writer, done func(int), docDefaults map[string]string) {
	app.Flag(flagDocFlag, "Print the flags as a Markdown table and exit.").Hidden().
		PreAction(func(*kingpin.ParseContext) error {
			_, err := io.WriteString(w, flagTable(app.Model(), docDefaults))
			if err != nil {
				return fmt.Errorf("--%s: %w", flagDocFlag, err)
			}
			done(0)
			return nil
		}).Bool()
}

// flagTable renders the visible flags of app (not help and version) as a
// Markdown table: flag, default, meaning. A boolean flag shows its
// default as true or false, which kingpin's own help leaves out. Call it
// before parsing, or from a PreAction of a parse that set no other flag and
// read no environment that sets flags.
func flagTable(app *kingpin.ApplicationModel, docDefaults map[string]string) string {
	var b strings.Builder
	b.WriteString("| flag | default | meaning |\n|---|---|---|\n")
	for _, f := range app.Flags {
		switch {
		case f.Hidden, f.Name == "help", f.Name == "help-long", f.Name == "help-man", f.Name == "version":
			continue
		}
		name := "--" + f.Name
		def := strings.Join(f.Default, ", ")
		if f.IsBoolFlag() {
			name = "--[no-]" + f.Name
			if def == "" {
				// No kingpin default: the value as declared is the
				// default (a collector switch starts enabled). Only this
				// flag was given, so nothing else has been set.
				def = f.Value.String()
			}
		}
		if d, ok := docDefaults[f.Name]; ok {
			def = d
		} else if def != "" {
			def = "`" + def + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", name, cell(def), cell(f.Help))
	}
	return b.String()
}

// cell makes s safe inside a table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}
