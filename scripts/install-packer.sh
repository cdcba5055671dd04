#!/usr/bin/env bash
# Builds packer v1.9.4 (the last MPL release) and the two plugins the templates require from the
# pinned tools module in tools/packer, once, and lays the plugins out where `packer init` finds them
# without network. Everything lands in the cache directory, keyed by version, so a second run is a
# few stat calls.
#
#   scripts/install-packer.sh            # build if missing, print the paths
#   eval "$(scripts/install-packer.sh --env)"   # export PACKER and PACKER_PLUGIN_PATH
set -euo pipefail

PACKER_VERSION=1.9.4
SCALEWAY_VERSION=1.0.4
ANSIBLE_VERSION=1.0.3
PLUGIN_API=x5.0

repo=$(cd "$(dirname "$0")/.." && pwd)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/ensemble"
packer_bin="$cache/packer-v$PACKER_VERSION"
plugin_dir="$cache/packer-plugins"
goos=$(go env GOOS)
goarch=$(go env GOARCH)

plugin_path() { # namespace type version
	echo "$plugin_dir/github.com/$1/$2/packer-plugin-$2_v$3_${PLUGIN_API}_${goos}_${goarch}"
}

# build_to OUT PACKAGE [ldflags]: builds into a temporary name and renames, so an interrupted
# build never leaves a half-written binary that a later run would take as done.
build_to() {
	local out=$1 pkg=$2 ldflags=${3:-}
	[[ -x $out ]] && return 0
	mkdir -p "$(dirname "$out")"
	echo "install-packer: building $pkg -> $out" >&2
	(cd "$repo/tools/packer" && go build -trimpath -ldflags "-s -w $ldflags" -o "$out.tmp.$$" "$pkg")
	mv "$out.tmp.$$" "$out"
}

# The ldflags reproduce upstream's goreleaser ones: the source trees carry stale version strings
# (scaleway v1.0.4 says 1.0.2), and packer matches plugins by the version they describe.
install_plugin() { # namespace type version module
	local f
	f=$(plugin_path "$1" "$2" "$3")
	build_to "$f" "$4" "-X $4/version.Version=$3 -X $4/version.VersionPrerelease="
	# packer ignores a plugin binary without its checksum file.
	[[ -s ${f}_SHA256SUM ]] || sha256sum "$f" | cut -d' ' -f1 >"${f}_SHA256SUM"
}

# Several callers (install-deps, test-images, a user) may run this at once: one builds, the others
# wait and then find everything in place.
mkdir -p "$cache"
exec 9>"$cache/.install-packer.lock"
flock 9

build_to "$packer_bin" github.com/hashicorp/packer
install_plugin scaleway scaleway "$SCALEWAY_VERSION" github.com/scaleway/packer-plugin-scaleway
install_plugin hashicorp ansible "$ANSIBLE_VERSION" github.com/hashicorp/packer-plugin-ansible

if [[ ${1:-} == --env ]]; then
	printf 'export PACKER=%q PACKER_PLUGIN_PATH=%q CHECKPOINT_DISABLE=1\n' "$packer_bin" "$plugin_dir"
else
	echo "packer:  $packer_bin"
	echo "plugins: $plugin_dir (export PACKER_PLUGIN_PATH=$plugin_dir)"
fi
