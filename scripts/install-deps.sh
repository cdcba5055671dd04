#!/usr/bin/env bash
# install-deps.sh installs what `make test`, `make demo` and the benchmarks need:
# Debian packages, Consul built from the pinned tools/consul module, and pinned Go
# tools. It is idempotent and quiet when everything is already there.
#
#   scripts/install-deps.sh            everything
#   scripts/install-deps.sh --demo     only what `make demo` needs
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/ensemble
CONSUL_VERSION=v1.16.3
PEBBLE_VERSION=v2.10.3
TOFU_VERSION=v1.12.6
STATICCHECK_VERSION=v0.8.2
BENCHSTAT_VERSION=v0.0.0-20260908200009-22c9c6c9d4da

mode=all
[[ ${1:-} == --demo ]] && mode=demo

say() { printf 'install-deps: %s\n' "$*" >&2; }

# Packages for the tests. --no-install-recommends matters: with recommends,
# prometheus pulls node-exporter's collectors and smartmontools, chromium pulls
# systemd and avahi.
demo_pkgs=(nginx prometheus)
test_pkgs=(
	nginx prometheus chromium fonts-dejavu-core wrk hyperfine prosody
	prometheus-node-exporter prometheus-nginx-exporter
	ansible ansible-lint debootstrap systemd-container equivs reprepro
	dpkg-dev nftables systemd gnupg openssl curl python3 postgresql haproxy shellcheck
)

as_root() {
	if [[ $(id -u) -eq 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
		sudo "$@"
	else
		say "need root to run: $*"
		say "run this script as root, or give this user password-less sudo"
		exit 1
	fi
}

install_apt() {
	local want=("$@") missing=()
	for p in "${want[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	((${#missing[@]} == 0)) && return
	say "installing Debian packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	as_root apt-get update -qq
	as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_consul() {
	local bin=$CACHE/consul-$CONSUL_VERSION
	[[ -x $bin ]] && return
	say "building Consul $CONSUL_VERSION from tools/consul (about 3 minutes the first time)"
	mkdir -p "$CACHE"
	(cd "$ROOT/tools/consul" && go build -trimpath -ldflags='-s -w' -o "$bin.tmp" github.com/hashicorp/consul)
	mv "$bin.tmp" "$bin"
}

# Let's Encrypt's test ACME server and its DNS stand-in, for the first-boot ACME tests; built
# from the pinned tools/pebble module like Consul.
install_pebble() {
	local cmd bin
	for cmd in pebble pebble-challtestsrv; do
		bin=$CACHE/$cmd-$PEBBLE_VERSION
		[[ -x $bin ]] && continue
		say "building $cmd $PEBBLE_VERSION from tools/pebble"
		mkdir -p "$CACHE"
		(cd "$ROOT/tools/pebble" && go build -trimpath -ldflags='-s -w' -o "$bin.tmp" "github.com/letsencrypt/pebble/v2/cmd/$cmd")
		mv "$bin.tmp" "$bin"
	done
}

# OpenTofu for the infra checks (make test-infra), from the pinned tools/tofu module. The ldflag
# marks it a release build, as upstream's goreleaser does, so `tofu version` says 1.12.6, not -dev.
install_tofu() {
	local bin=$CACHE/tofu-$TOFU_VERSION
	[[ -x $bin ]] && return
	say "building OpenTofu $TOFU_VERSION from tools/tofu (about 9 minutes the first time)"
	mkdir -p "$CACHE"
	(cd "$ROOT/tools/tofu" && go build -trimpath -ldflags='-s -w -X github.com/opentofu/opentofu/version.dev=no' \
		-o "$bin.tmp.$$" github.com/opentofu/opentofu/cmd/tofu)
	mv "$bin.tmp.$$" "$bin"
}

install_go_tool() { # name package version
	local bin=$CACHE/bin/$1-$3
	[[ -x $bin ]] && return
	say "installing $2@$3"
	mkdir -p "$CACHE/bin"
	local tmp
	tmp=$(mktemp -d)
	GOBIN=$tmp go install "$2@$3"
	mv "$tmp/$1" "$bin"
	rmdir "$tmp"
	ln -sf "$bin" "$CACHE/bin/$1"
}

if [[ $(uname -s) == Linux ]] && command -v dpkg-query >/dev/null; then
	if [[ $mode == demo ]]; then install_apt "${demo_pkgs[@]}"; else install_apt "${test_pkgs[@]}"; fi
	# test-images evaluates config.js as the mobile apps do, in Node's vm; a machine that has a
	# node of its own (NodeSource's, say) keeps it.
	if [[ $mode == all ]] && ! command -v node >/dev/null; then install_apt nodejs; fi
else
	for c in nginx prometheus; do
		command -v "$c" >/dev/null || { say "please install $c (e.g. brew install $c)"; exit 1; }
	done
fi

command -v go >/dev/null || { say "Go 1.26 is required: https://go.dev/dl/"; exit 1; }
install_consul
if [[ $mode == all ]]; then
	install_pebble
	install_go_tool staticcheck honnef.co/go/tools/cmd/staticcheck "$STATICCHECK_VERSION"
	install_go_tool benchstat golang.org/x/perf/cmd/benchstat "$BENCHSTAT_VERSION"
	install_tofu
	if [[ -x $ROOT/scripts/install-packer.sh ]]; then
		"$ROOT/scripts/install-packer.sh" >/dev/null
	fi
fi
