#!/usr/bin/env bash
# check-imports.sh fails when the node side and the selector side import each other: the
# sidecar and the selector share only the registration contract (internal/registration) and
# the wire (Consul), so neither ships the other's code. Test imports count too.
#
# It also fails when a shipped binary links the lab (internal/lab: test servers, the demo
# fleet, the soak, the bridge emulator): what runs on a production node or selector host
# must not carry harness code. Only the binaries' own dependencies count here, not tests.
set -euo pipefail
cd "$(dirname "$0")/.."
mod=$(go list -m)
fail=0
check() { # check <what> <forbidden import prefix> <packages...>
	local what=$1 forbidden=$2
	shift 2
	local bad
	bad=$(go list -deps -test -f '{{.ImportPath}}' "$@" | grep -E "^${mod}/${forbidden}(/|$)" | grep -v '\.test$' | sort -u || true)
	if [[ -n $bad ]]; then
		echo "check-imports: $what imports $forbidden:" >&2
		echo "$bad" | sed 's/^/  /' >&2
		fail=1
	fi
}
check "the sidecar" selector ./sidecar/... ./cmd/ensemble-sidecar/...
check "the selector" sidecar ./selector/... ./cmd/ensemble-selector/...

# The binaries that ship on nodes and selector hosts.
shipped=(ensemble-sidecar ensemble-selector ensemble-exporter ensemble-firstboot)
for cmd in "${shipped[@]}"; do
	bad=$(go list -deps -f '{{.ImportPath}}' "./cmd/$cmd" | grep -E "^${mod}/internal/lab(/|$)" | sort -u || true)
	if [[ -n $bad ]]; then
		echo "check-imports: $cmd (shipped) links the lab:" >&2
		echo "$bad" | sed 's/^/  /' >&2
		fail=1
	fi
done
exit $fail
