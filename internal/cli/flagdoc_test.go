package cli

import (
	"bytes"
	"testing"

	"github.com/alecthomas/kingpin/v2"
)

func TestTable(t *testing.T) {
	app := kingpin.New("x", "")
	app.Flag("web.listen-address", "Addresses | ports.").Default(":9105").Strings()
	app.Flag("health.jvb", "Require the bridge's health.").Default("true").Bool()
	app.Flag("drain.jvb-graceful-shutdown", "Ask for shutdown.").Bool()
	app.Flag("consul.service-id", "Stable ID.").Default("my-laptop").String()
	app.Flag("secret", "Hidden.").Hidden().String()
	on := true
	app.Flag("collector.cpu", "CPU.").BoolVar(&on)
	var out bytes.Buffer
	code := -1
	registerFlagDoc(app, &out, func(c int) { code = c }, map[string]string{"consul.service-id": "host name"})
	if _, err := app.Parse([]string{"--" + flagDocFlag}); err != nil {
		t.Fatal(err)
	}
	want := "| flag | default | meaning |\n|---|---|---|\n" +
		"| `--web.listen-address` | `:9105` | Addresses \\| ports. |\n" +
		"| `--[no-]health.jvb` | `true` | Require the bridge's health. |\n" +
		"| `--[no-]drain.jvb-graceful-shutdown` | `false` | Ask for shutdown. |\n" +
		"| `--consul.service-id` | host name | Stable ID. |\n" +
		"| `--[no-]collector.cpu` | `true` | CPU. |\n"
	if code != 0 || out.String() != want {
		t.Errorf("exit %d, table:\n%s\nwant:\n%s", code, out.String(), want)
	}
}
