#!/usr/bin/env bash
# Prints the -gcflags that build the node agents (ensemble-sidecar, ensemble-exporter) with inlining
# off in the packages they run only at start-up or on rare paths: flag parsing and help (kingpin,
# text/template), protobuf descriptors, the YAML web config, TLS handshakes and certificates, the
# Consul client's set-up and its dependencies' init, IDNA and Unicode tables. Inlining copies code
# into every caller; in code that runs once it buys nothing, while the copies spread over the
# binary's pages and every 64 KiB window the kernel maps on a fault counts in RSS
# (docs/benchmarks.md). Per-scrape packages (runtime, net/http, bufio, strconv, fmt, the collectors,
# client_golang) keep their inlining. Used by `make build` and scripts/bench-exporters.sh.
set -euo pipefail
cold=(
	github.com/alecthomas/kingpin/v2
	github.com/armon/...
	github.com/fatih/color
	github.com/go-viper/...
	github.com/hashicorp/...
	github.com/mdlayher/...
	github.com/prometheus/common/config
	go.yaml.in/yaml/v2
	golang.org/x/net/bpf
	golang.org/x/net/idna
	golang.org/x/net/trace
	golang.org/x/oauth2/...
	golang.org/x/text/...
	google.golang.org/protobuf/...
	crypto/...
	encoding/asn1
	encoding/xml
	go/doc/comment
	html/template
	math/big
	text/template/...
	vendor/golang.org/x/crypto/...
	vendor/golang.org/x/net/idna
	vendor/golang.org/x/text/...
)
printf -- '-gcflags=%s=-l\n' "${cold[@]}"
