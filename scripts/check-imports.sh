#!/usr/bin/env bash
# check-imports.sh fails when a package links code it must not (scripts/check_imports_test.go
# plants each forbidden import through a go list overlay and checks that this script fails):
#
# - The node side and the selector side import each other: the sidecar and the selector share
#   only the registration contract (internal/registration) and the wire (Consul), so neither
#   ships the other's code. Test imports count too.
# - A shipped binary links the lab (internal/lab: test servers, the demo fleet, the soak, the
#   bridge emulator): what runs on a production node or selector host must not carry harness
#   code. Only the binaries' own dependencies count here, not tests.
# - ensemble-firstboot links the exporter library: it runs as root at every boot, before the
#   network services, and needs none of the exporter's HTTP server and Prometheus client.
# - A main package sits directly under cmd/ and is not one of the shipped binaries: the folder
#   tells what ships, so lab mains live in cmd/lab/ and developer tools in cmd/tools/.
#
# GOFLAGS (for example -overlay=...) is passed to go list.
set -euo pipefail
cd "$(dirname "$0")/.."
mod=$(go list -m)
fail=0

# forbid <what> <forbidden import prefix> <go list flags and packages...>
forbid() {
	local what=$1 forbidden=$2
	shift 2
	local deps bad
	# A go list failure (a broken import) must fail the check, not hide the packages it checks.
	if ! deps=$(go list -deps -f '{{.ImportPath}}' "$@"); then
		echo "check-imports: go list failed for $what" >&2
		fail=1
		return
	fi
	bad=$(grep -E "^${mod}/${forbidden}(/|$)" <<<"$deps" | grep -v '\.test$' | sort -u || true)
	if [[ -n $bad ]]; then
		echo "check-imports: $what links $forbidden:" >&2
		echo "$bad" | sed 's/^/  /' >&2
		fail=1
	fi
}

forbid "the sidecar" selector -test ./sidecar/... ./cmd/ensemble-sidecar/...
forbid "the selector" sidecar -test ./selector/... ./cmd/ensemble-selector/...

# The binaries that ship on nodes and selector hosts.
shipped=(ensemble-sidecar ensemble-selector ensemble-exporter ensemble-firstboot)
for cmd in "${shipped[@]}"; do
	forbid "$cmd (shipped)" internal/lab "./cmd/$cmd"
done

# Only they are mains directly under cmd/.
if ! mains=$(go list -f '{{if eq .Name "main"}}{{.ImportPath}}{{end}}' ./cmd/...); then
	echo "check-imports: go list failed for cmd/" >&2
	fail=1
fi
stray=$(grep -E "^${mod}/cmd/[^/]+$" <<<"$mains" | grep -vxF "$(printf "${mod}/cmd/%s\n" "${shipped[@]}")" || true)
if [[ -n $stray ]]; then
	echo "check-imports: mains directly under cmd/ that do not ship (move them to cmd/lab/ or cmd/tools/):" >&2
	echo "$stray" | sed 's/^/  /' >&2
	fail=1
fi
forbid "ensemble-firstboot (runs as root at boot)" exporter ./cmd/ensemble-firstboot
exit $fail
