package fleet

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"go.yaml.in/yaml/v2"
)

// adaptPrometheusConfig rewrites the shipped prometheus-http-sd.yml for this
// fleet: its HTTP service discovery asks the fleet's selector (sdHost, as
// host:port) for targets, its file discovery of the selectors reads
// selectorsFile, the intervals follow Timing, and rule files become absolute
// paths (Prometheus resolves them relative to the config file, which the fleet
// writes elsewhere). Everything else, relabelling and recording
// rules included, is kept as shipped so the demo and the end-to-end suite run
// the real configuration.
func adaptPrometheusConfig(path, sdHost, selectorsFile string, t Timing) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("prometheus config: %w", err)
	}
	var doc yaml.MapSlice
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return "", fmt.Errorf("prometheus config %s: %w", path, err)
	}
	base, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return "", fmt.Errorf("prometheus config: %w", err)
	}
	interval := promDuration(t.ScrapeInterval)
	// A scrape must end before the next one starts.
	timeout := promDuration(t.ScrapeInterval * 4 / 5)
	sdServers := 0
	for i, top := range doc {
		switch top.Key {
		case "global":
			doc[i].Value = set(asMap(top.Value), "scrape_interval", interval, "evaluation_interval", interval)
		case "rule_files":
			files, _ := top.Value.([]any)
			for j, f := range files {
				if s, ok := f.(string); ok && !filepath.IsAbs(s) {
					files[j] = filepath.Join(base, s)
				}
			}
		case "scrape_configs":
			jobs, _ := top.Value.([]any)
			for j, job := range jobs {
				m := asMap(job)
				if has(m, "scrape_interval") {
					m = set(m, "scrape_interval", interval)
				}
				if has(m, "scrape_timeout") {
					m = set(m, "scrape_timeout", timeout)
				}
				for _, kv := range m {
					if kv.Key == "file_sd_configs" {
						sds, _ := kv.Value.([]any)
						for k, sd := range sds {
							sdm := asMap(sd)
							for l := range sdm {
								if sdm[l].Key == "files" {
									sdm[l].Value = []any{selectorsFile}
								}
							}
							sds[k] = set(sdm, "refresh_interval", interval)
						}
					}
					if kv.Key != "http_sd_configs" {
						continue
					}
					sds, _ := kv.Value.([]any)
					for k, sd := range sds {
						sdm := asMap(sd)
						for _, kv := range sdm {
							raw, _ := kv.Value.(string)
							if kv.Key != "url" {
								continue
							}
							u, err := url.Parse(raw)
							if err != nil {
								return "", fmt.Errorf("prometheus config %s: http_sd url: %w", path, err)
							}
							u.Host = sdHost
							sdm = set(sdm, "url", u.String())
							sdServers++
						}
						sds[k] = set(sdm, "refresh_interval", interval)
					}
				}
				jobs[j] = m
			}
		}
	}
	if sdServers == 0 {
		return "", fmt.Errorf("prometheus config %s: %w", path, errNoHTTPSD)
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("prometheus config: %w", err)
	}
	return string(out), nil
}

// promDuration formats a duration the way Prometheus parses it (whole milliseconds).
func promDuration(d time.Duration) string {
	return fmt.Sprintf("%dms", d.Milliseconds())
}

func asMap(v any) yaml.MapSlice {
	m, _ := v.(yaml.MapSlice)
	return m
}

func has(m yaml.MapSlice, key string) bool {
	for _, kv := range m {
		if kv.Key == key {
			return true
		}
	}
	return false
}

// set sets key/value pairs in m, replacing or appending.
func set(m yaml.MapSlice, kvs ...string) yaml.MapSlice {
	for i := 0; i+1 < len(kvs); i += 2 {
		found := false
		for j := range m {
			if m[j].Key == kvs[i] {
				m[j].Value, found = kvs[i+1], true
			}
		}
		if !found {
			m = append(m, yaml.MapItem{Key: kvs[i], Value: kvs[i+1]})
		}
	}
	return m
}

var errNoHTTPSD = errors.New("no http_sd_configs to point at the fleet's selector")
