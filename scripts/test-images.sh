#!/usr/bin/env bash
# make test-images: proves that the packer templates and Ansible roles bake ONE generic Jitsi image
# that boots into distinct nodes from their user-data, without a cloud account and without
# reaching Jitsi's servers.
#
#   1. lint       ansible-lint, --syntax-check per playbook, packer fmt -check / init / validate
#                 (and validate must refuse a source image that is not a UUID); the apt key check
#                 refuses a bundle of two keys
#   2. converge   packer build of the base and jitsi templates' CI source into debootstrap roots
#                 (the real ansible provisioner over Ansible's chroot connection, in first-boot
#                 mode: no secret, no node name); the jitsi build's base.yml is base's second run,
#                 then the jitsi build again: changed=0; prosody 13 installed and pinned
#   3. stand-ins  Jitsi's packages are built with equivs into a signed local apt repository; their
#                 postinst scripts write the debconf host name where the real ones do (prosody's:
#                 jitsi-meet-prosody's whole configuration), and the videobridge stand-in runs
#                 ensemble-jvbemu as the bridge
#   control       base.yml (inventory mode), selector.yml and monitoring.yml converge (twice,
#                 changed=0) into another root, the control host, beside steps 2 and 3
#   image         the image cleanup script runs in the jitsi root; the result is tarred and grepped
#                 for every secret and node name the test uses later: zero hits
#   4. fleet      in a network namespace of its own (a bridge, 172.31.251.0/24): a Consul server
#                 with ACLs, TLS and auto_encrypt, the ACL policies of deploy/consul and per-node
#                 tokens; three copies of the image boot as nspawn containers on the bridge, each
#                 with its own user-data: two good nodes (own names, certificates from a CA made
#                 here) and one with a field missing. Both good nodes pass in Consul with their own
#                 public_url, export ensemble_jvb_up 1 through their firewalls, serve their own
#                 certificate; a selector spreads new rooms over both and redirects to each node's
#                 name. config.js evaluates without a page (node vm) and names the node; an XMPP
#                 session over BOSH through nginx gets TURN credentials that coturn accepts over
#                 TLS (turnutils_uclient), and coturn refuses TCP, loopback and private relays;
#                 prosody 13 passes its config check with an empty error log; a node whose
#                 prosody stops leaves selection. The broken node never reaches Consul and says
#                 why in its journal and on /health. A rotated sidecar token is applied at the
#                 next boot, which changes no other file.
#   rolling       jitsi.yml (serial 1, drain through the sidecar's control listener) runs against
#                 the two nodes over SSH with a conference on one: no bridge restarts while it
#                 has conferences, both nodes end serving; a changed first-boot template applies
#                 without a reboot or restarts; a node whose sidecar is down fails the play
#   5. boot       the control root boots: selector through nginx with TLS, Prometheus scraping it
#
# Runs as root on the CI host. Everything it creates lives under one temporary directory (roots,
# repository, keys, logs), the cache directory and one network namespace; the trap stops the
# containers and processes and removes it all. ENSEMBLE_IMAGES_KEEP=1 keeps the work directory.
# ENSEMBLE_IMAGES_SIDECAR=<binary> uses that ensemble-sidecar instead of this tree's.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/ensemble"
suite=bookworm
# What the converge needs on top of minbase: python3 for Ansible's modules, systemd to enable
# units (and to boot), procps for sysctl, dbus for a clean boot.
include=python3,python3-apt,systemd,systemd-sysv,procps,dbus

die() { echo "test-images: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "needs root (debootstrap, chroot, systemd-nspawn)"
consul_bin="$cache/consul-v1.16.3"
[[ -x $consul_bin ]] || die "$consul_bin missing: run scripts/install-deps.sh"
for tool in ansible-lint ansible-playbook debootstrap systemd-nspawn nsenter equivs-build reprepro gpg openssl curl go ip ssh-keygen node; do
	command -v "$tool" >/dev/null || die "$tool missing: run scripts/install-deps.sh"
done

work=$(mktemp -d /tmp/ensemble-images.XXXXXX)
netns=ensemble-images-$$
declare -A nspawn_pids=() # container name -> systemd-nspawn PID
host_pids=()              # Consul server, selector: processes in the test's network namespace
declare -A bg_pids=() bg_starts=() # background step name -> subshell PID, start time

# container_init NAME: the container's PID 1 (systemd), empty if it does not run.
container_init() {
	local pid=${nspawn_pids[$1]:-}
	[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
	pgrep -P "$pid" -x systemd | head -1 || true
}

stop_container() { # NAME
	local name=$1 pid=${nspawn_pids[$1]:-} init
	[[ -n $pid ]] || return 0
	if kill -0 "$pid" 2>/dev/null; then
		init=$(container_init "$name")
		[[ -n $init ]] && nsenter -t "$init" -a systemctl poweroff >/dev/null 2>&1 || true
		for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null || true
			sleep 2
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	wait "$pid" 2>/dev/null || true
	unset "nspawn_pids[$name]"
}

cleanup() {
	local rc=$? name pid
	set +e
	for pid in "${bg_pids[@]}"; do kill_tree "$pid"; wait "$pid" 2>/dev/null; done
	for name in "${!nspawn_pids[@]}"; do stop_container "$name"; done
	for pid in "${host_pids[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
	for name in node-a node-b node-c; do ip netns del "$netns-$name" 2>/dev/null; done
	ip netns del "$netns" 2>/dev/null
	# nspawn mounts in its own namespace; this only catches what leaked into the host's.
	findmnt -rn -o TARGET | grep -F "$work/" | sort -r | while read -r m; do umount -l "$m"; done
	if [[ ${ENSEMBLE_IMAGES_KEEP:-} == 1 ]]; then
		echo "test-images: kept $work"
	else
		[[ $rc == 0 ]] || echo "test-images: ENSEMBLE_IMAGES_KEEP=1 keeps the roots and logs of $work" >&2
		rm -rf --one-file-system "$work"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

timings=()
timing() { # NAME START: records a step's wall time since START
	timings+=("$(awk -v n="$1" -v a="$2" -v b="$EPOCHREALTIME" 'BEGIN{printf "%-12s %6.1f s", n, b - a}')")
}
timed() { # NAME FUNCTION ARGS...: one check inside a step; its time is listed under the step's
	local name=$1 start=$EPOCHREALTIME
	shift
	"$@"
	timing "  $name" "$start"
}
step() { # step NAME FUNCTION: runs it, records its wall time
	local name=$1 start
	shift
	echo "== $name"
	start=$EPOCHREALTIME
	"$@"
	timing "$name" "$start"
}

background() { # NAME FUNCTION: runs it beside the next steps; its output waits in a log for await
	local name=$1
	shift
	echo "== $name (in the background)"
	bg_starts[$name]=$EPOCHREALTIME
	("$@") >"$work/$name.step.log" 2>&1 &
	bg_pids[$name]=$!
}
await() { # NAME: waits for a background step, prints its output, fails if it failed
	local name=$1 rc=0
	wait "${bg_pids[$name]}" || rc=$?
	unset "bg_pids[$name]"
	echo "== $name (awaited)"
	cat "$work/$name.step.log"
	[[ $rc == 0 ]] || die "$name failed"
	timing "$name" "${bg_starts[$name]}"
}

kill_tree() { # PID: the process and everything it started
	local child
	for child in $(pgrep -P "$1"); do kill_tree "$child"; done
	kill "$1" 2>/dev/null || true
}

# --- 1. lint ------------------------------------------------------------------------------------

eval "$(bash "$repo/scripts/install-packer.sh" --env)"
export PACKER PACKER_PLUGIN_PATH CHECKPOINT_DISABLE
# Dummy credentials: validate only checks their shape, and CI never selects the Scaleway sources.
export SCW_ACCESS_KEY=SCWXXXXXXXXXXXXXXXXX
export SCW_SECRET_KEY=11111111-1111-1111-1111-111111111111
export SCW_DEFAULT_PROJECT_ID=11111111-1111-1111-1111-111111111111

lint() {
	(cd "$repo/ansible" && ansible-lint --nocolor -q)
	local p
	for p in site base jitsi selector monitoring; do
		(cd "$repo/ansible" && ansible-playbook --syntax-check "$p.yml" >/dev/null)
	done
	"$PACKER" fmt -check -diff "$repo/packer"
	"$PACKER" init "$repo/packer" >/dev/null
	"$PACKER" validate -var source_image=11111111-1111-1111-1111-111111111111 \
		-var manifest="$work/manifest.json" "$repo/packer"
	# plugin v1.0.4 would look a label up through Scaleway's retired marketplace v1 API
	if "$PACKER" validate -var source_image=debian_bookworm -var manifest="$work/manifest.json" \
		"$repo/packer" >"$work/validate-label.log" 2>&1; then
		die "packer validate accepted a source image label; it must require a UUID"
	fi
	grep -q 'must be an image UUID' "$work/validate-label.log" || { cat "$work/validate-label.log"; die "unexpected validate error"; }
	timed key-pin check_key_pin
}

# The jitsi role's apt key check (N6) alone: a file with exactly the pinned key passes; the
# pinned key bundled with a second one, and another single key, are refused.
check_key_pin() {
	local g="$work/keypin" fpr name
	mkdir -m 0700 -p "$g/gnupg" "$g/check"
	for name in pinned other; do
		GNUPGHOME="$g/gnupg" gpg --batch --quiet --passphrase '' --quick-gen-key "$name <$name@ci.invalid>" ed25519 sign never 2>/dev/null
	done
	fpr=$(GNUPGHOME="$g/gnupg" gpg --batch --list-keys --with-colons 'pinned <' 2>/dev/null | awk -F: '/^fpr/{print $10; exit}')
	GNUPGHOME="$g/gnupg" gpg --batch --armor --export "$fpr" >"$g/one.asc"
	GNUPGHOME="$g/gnupg" gpg --batch --armor --export >"$g/two.asc"
	GNUPGHOME="$g/gnupg" gpg --batch --armor --export 'other <' >"$g/other.asc"
	key_check() { (cd "$repo/ansible" && ansible-playbook tests/repository-key.yml -e key_file="$g/$1.asc" \
		-e fingerprint="$fpr" -e gnupg_home="$g/check") >"$g/$1.log" 2>&1; }
	key_check one || { cat "$g/one.log"; die "the apt key check refused the pinned key alone"; }
	! key_check two || die "the apt key check accepted the pinned key bundled with another"
	grep -q 'holds 2 keys' "$g/two.log" || { cat "$g/two.log"; die "the apt key check failed for another reason"; }
	! key_check other || die "the apt key check accepted a key that is not the pinned one"
	GNUPGHOME="$g/gnupg" gpgconf --kill gpg-agent # key generation started one
	echo "   apt key pin: the pinned key alone passes; bundled with a second key, or another key, refused"
}
step lint lint

# --- 2. converge --------------------------------------------------------------------------------

build_binaries() {
	mkdir -p "$work/bin"
	(cd "$repo" && go build -trimpath -ldflags='-s -w' -o "$work/bin/" ./cmd/ensemble-sidecar ./cmd/ensemble-jvbemu \
		./cmd/ensemble-firstboot ./cmd/ensemble-selector ./cmd/ensemble-xmppcheck)
	# ENSEMBLE_IMAGES_SIDECAR=<binary> tries the images with another build of the sidecar.
	if [[ -n ${ENSEMBLE_IMAGES_SIDECAR:-} ]]; then
		cp "$ENSEMBLE_IMAGES_SIDECAR" "$work/bin/ensemble-sidecar"
	fi
}
step binaries build_binaries

# A bookworm root from the host's Debian mirror, kept as a tarball keyed by suite, packages and
# mirror: untarring takes seconds where debootstrap takes a minute or more.
mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}
root_key=$(printf '%s %s %s' "$suite" "$include" "$mirror" | sha256sum | cut -c1-12)
root_tar="$cache/images/$suite-minbase-$root_key.tar"

# Packages the converges download, kept between runs (hard links: same file system, no copies).
apt_cache="$cache/images/apt-archives"

# apt_cache_in ROOT / apt_cache_out ROOT: seed a root's apt archive from the cache and keep
# what it downloaded. apt never rewrites a .deb in place, so sharing the inodes is safe.
apt_cache_in() {
	mkdir -p "$apt_cache" "$1/var/cache/apt/archives"
	find "$apt_cache" -maxdepth 1 -name '*.deb' -exec cp -l -f -t "$1/var/cache/apt/archives/" {} +
}
apt_cache_out() {
	# Two converges run at once and may add the same package; losing that race only means the
	# other root's copy is the one kept.
	find "$1/var/cache/apt/archives" -maxdepth 1 -name '*.deb' -exec cp -l -n -t "$apt_cache/" {} + 2>/dev/null || true
}

base_root="$work/base"
jitsi_root="$work/jitsi"

make_root() {
	if [[ ! -s $root_tar ]]; then
		mkdir -p "$cache/images" "$work/debootstrap"
		debootstrap --variant=minbase --include="$include" "$suite" "$work/debootstrap" "$mirror" >"$work/debootstrap.log" 2>&1 ||
			{ tail -20 "$work/debootstrap.log"; die "debootstrap failed"; }
		tar -C "$work/debootstrap" -cf "$root_tar.tmp.$$" .
		mv "$root_tar.tmp.$$" "$root_tar"
		rm -rf --one-file-system "$work/debootstrap"
	fi
	unpack_root "$base_root"
}

# unpack_root DIR: the cached root into DIR, with package scripts kept from starting services:
# without systemd as PID 1, invoke-rc.d would fall back to init scripts and start nginx & co. in
# the host's network namespace. The policy-rc.d is removed before a root boots.
unpack_root() {
	mkdir -p "$1"
	tar -C "$1" -xf "$root_tar"
	printf '#!/bin/sh\nexit 101\n' >"$1/usr/sbin/policy-rc.d"
	chmod 0755 "$1/usr/sbin/policy-rc.d"
}
step root make_root

total() { awk '{n += $1} END {print n + 0}'; } # sums the changed= counts it reads, one per line

# not_idempotent NAME LOG: names the tasks that changed on a second run, then fails.
not_idempotent() {
	echo "tasks that changed again:" >&2
	grep -B3 -E 'changed: \[' "$2" | grep -E 'TASK \[' >&2 || true
	die "$1 is not idempotent"
}

# --- control host: base (inventory mode), selector and monitoring on a fresh root ---------------

control_root="$work/control"
token=$(cat /proc/sys/kernel/random/uuid)

control_playbooks() { # LOG: runs base.yml, selector.yml and monitoring.yml; prints the summed changed=
	local log=$1
	if ! (cd "$repo/ansible" && ansible-playbook -i "$work/control.ini" -e @"$work/control-vars.yml" \
		base.yml selector.yml monitoring.yml) >"$log" 2>&1; then
		grep -E 'fatal:|FAILED|ERROR' "$log" | tail -20 >&2
		die "control playbooks failed (log: $log)"
	fi
	grep -E '^control +: ok=' "$log" | sed -E 's/.* changed=([0-9]+) .*/\1/' | total
}

converge_control() {
	unpack_root "$control_root"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=selector.ci.invalid \
		-addext subjectAltName=DNS:selector.ci.invalid -keyout "$work/selector.key" -out "$work/selector.crt" 2>/dev/null
	printf '[selector]\ncontrol\n[monitoring]\ncontrol\n[all:vars]\nansible_connection=community.general.chroot\nansible_pipelining=false\nansible_host=%s\n' \
		"$control_root" >"$work/control.ini"
	# A one-server Consul datacenter inside the control host, with ACLs on; loopback only.
	cat >"$work/control-vars.yml" <<EOF2
base_firewall_ssh_sources: ["0.0.0.0/0"]
base_firewall_consul_sources: ["127.0.0.1/32"]
base_consul_binary_src: "$consul_bin"
base_consul_server: true
base_consul_bootstrap_expect: 1
base_consul_bind_addr: 127.0.0.1
base_consul_retry_join: ["127.0.0.1"]
base_consul_encrypt: "$(head -c32 /dev/urandom | base64)"
base_consul_agent_token: "$token"
base_consul_initial_management_token: "$token"
selector_public_name: selector.ci.invalid
selector_tls_certificate_src: $work/selector.crt
selector_tls_key_src: $work/selector.key
selector_binary_src: $work/bin/ensemble-selector
selector_consul_token: "$token"
EOF2
	apt_cache_in "$control_root"
	control_playbooks "$work/control.log" >/dev/null
	apt_cache_out "$control_root"
	local changed
	changed=$(control_playbooks "$work/control-again.log")
	[[ $changed == 0 ]] || not_idempotent base/selector/monitoring "$work/control-again.log"
}
# The control host shares nothing with the image's roots but the apt cache, so it converges beside
# them: Ansible runs one task at a time, about one core of CI's two.
background control converge_control

# What every image build gets: no secret and no node name (those come with each node's user-data,
# further down). The SSH key lets the rolling playbook reach the nodes.
ssh-keygen -q -t ed25519 -N '' -C ensemble-ci -f "$work/ssh-key"
cat >"$work/vars.yml" <<EOF2
base_firewall_ssh_sources: ["0.0.0.0/0"]
base_ssh_authorized_keys: ["$(cat "$work/ssh-key.pub")"]
EOF2

# packer_build NAME ROOT LOG: the template's CI source into ROOT; prints the changed= of each of its
# PLAY RECAPs, one per line (the jitsi build runs base.yml, then jitsi.yml).
packer_build() {
	local name=$1 root=$2 log=$3
	if ! (cd "$repo" && "$PACKER" build -color=false -only="$name.null.ci" \
		-var ci_chroot="$root" -var ansible_vars_file="$work/vars.yml" \
		-var source_image=11111111-1111-1111-1111-111111111111 \
		-var consul_binary="$consul_bin" -var sidecar_binary="$work/bin/ensemble-sidecar" \
		-var firstboot_binary="$work/bin/ensemble-firstboot" \
		-var manifest="$work/manifest.json" \
		packer/) >"$log" 2>&1; then
		grep -E 'fatal:|FAILED|Error' "$log" | tail -20 >&2
		die "packer build $name failed (log: $log)"
	fi
	local recaps
	recaps=$(grep -E "$name\.null\.ci: default +: ok=" "$log") || die "no PLAY RECAP in $log"
	echo "$recaps" | sed 's/^/   /' >&2
	sed -E 's/.* changed=([0-9]+) .*/\1/' <<<"$recaps"
}


converge_base() {
	apt_cache_in "$base_root"
	packer_build base "$base_root" "$work/base.log" >/dev/null
	apt_cache_out "$base_root"
}
step base converge_base

# --- 3. stand-in Jitsi packages -----------------------------------------------------------------

# Built once per content of packer/ci/standin and the emulator binary.
standin_repo() {
	local src="$repo/packer/ci/standin" key debs
	key=$( (cd "$src" && find . -type f | sort | xargs cat; cat "$work/bin/ensemble-jvbemu") | sha256sum | cut -c1-12)
	debs="$cache/images/standin-$key"
	if [[ ! -d $debs ]]; then
		mkdir -p "$work/equivs"
		cp -r "$src"/. "$work/equivs/"
		cp "$work/bin/ensemble-jvbemu" "$work/equivs/"
		local ctl
		for ctl in "$work"/equivs/*.ctl; do
			# nostrip: the emulator is a Go binary, which dh_dwz cannot process.
			(cd "$work/equivs" && DEB_BUILD_OPTIONS=nostrip equivs-build "$ctl" >"$ctl.log" 2>&1) ||
				{ tail -20 "$ctl.log"; die "equivs-build $(basename "$ctl") failed"; }
		done
		mkdir -p "$debs.tmp.$$"
		mv "$work"/equivs/*.deb "$debs.tmp.$$/"
		rm -rf "$debs"
		mv "$debs.tmp.$$" "$debs"
	fi

	# A signed repository, as Jitsi's is: a throwaway key, reprepro, the public key beside it.
	export GNUPGHOME="$work/gnupg"
	mkdir -m 0700 -p "$GNUPGHOME"
	gpg --batch --quiet --passphrase '' --quick-gen-key 'Ensemble CI stand-ins <ci@ensemble.invalid>' ed25519 sign never 2>/dev/null
	local fpr
	fpr=$(gpg --batch --list-keys --with-colons 2>/dev/null | awk -F: '/^fpr/{print $10; exit}')
	mkdir -p "$work/repo/conf"
	printf 'Codename: %s\nComponents: main\nArchitectures: amd64\nSignWith: %s\n' "$suite" "$fpr" >"$work/repo/conf/distributions"
	reprepro -b "$work/repo" --silent includedeb "$suite" "$debs"/*.deb
	gpg --batch --armor --export "$fpr" >"$work/repo/key.asc"
	gpgconf --kill gpg-agent # signing started one
	unset GNUPGHOME
	# The role checks the key it fetches against this fingerprint, as it does Jitsi's.
	cat >>"$work/vars.yml" <<EOF2
jitsi_apt_key_url: file:///var/local/jitsi-standin/key.asc
jitsi_apt_key_fingerprint: "$fpr"
jitsi_apt_repository: "deb [signed-by=/etc/apt/keyrings/jitsi.asc] file:/var/local/jitsi-standin $suite main"
EOF2
}
step standin standin_repo

# --- converge jitsi on a copy of the base root, then idempotence -------------------------------

# Prosody 13 from backports is installed, and apt's candidate on a system without prosody (an
# empty dpkg status: what a new image, `apt install jitsi-meet-prosody` or a reinstall resolves)
# is 13 with bookworm's 0.x forbidden (priority -1). Without the role's pin file that candidate
# is 0.x, so the pin is what holds 13.
prosody_candidate() {
	chroot "$jitsi_root" apt-cache -o Dir::State::status=/dev/null policy prosody | awk '/Candidate:/{print $2}'
}
check_prosody_pin() {
	local pin="$jitsi_root/etc/apt/preferences.d/ensemble-prosody" installed candidate unpinned policy
	installed=$(chroot "$jitsi_root" dpkg-query -W -f='${Version}' prosody)
	[[ $installed == 13.* ]] || die "prosody $installed is installed, not 13"
	candidate=$(prosody_candidate)
	[[ $candidate == 13.* ]] || die "apt's candidate for prosody is $candidate, not 13"
	policy=$(chroot "$jitsi_root" apt-cache policy prosody)
	grep -qE '^ +0\.[^ ]+ -1$' <<<"$policy" || { echo "$policy"; die "bookworm's prosody 0.x is not forbidden (priority -1)"; }
	mv "$pin" "$pin.off"
	unpinned=$(prosody_candidate)
	mv "$pin.off" "$pin"
	[[ $unpinned == 0.* ]] || die "without the pin apt's candidate is $unpinned: the pin check proves nothing"
	echo "   prosody $installed, apt's candidate (0.x forbidden; without the pin the candidate is $unpinned)"
}

converge_jitsi() {
	cp -a "$base_root" "$jitsi_root"
	# The repository lives inside the root: apt there reads it through a file: URI.
	mkdir -p "$jitsi_root/var/local/jitsi-standin"
	cp -r "$work/repo/dists" "$work/repo/pool" "$work/repo/key.asc" "$jitsi_root/var/local/jitsi-standin/"
	apt_cache_in "$jitsi_root"
	local changed
	changed=$(packer_build jitsi "$jitsi_root" "$work/jitsi.log")
	apt_cache_out "$jitsi_root"
	# This build's base.yml is the second run of base.yml on the base root's copy: base's
	# idempotence check, without a build of its own.
	[[ $(head -1 <<<"$changed") == 0 ]] || not_idempotent base "$work/jitsi.log"
	# The packages were configured for the internal XMPP domain, not for any public name.
	grep -q 'domain = "auth.meet.jitsi"' "$jitsi_root/etc/jitsi/videobridge/jvb.conf" ||
		die "jvb.conf is not configured for the internal domain meet.jitsi"
	grep -qF "config.bosh = 'https://<!--# echo var=\"ensemble_public_name\"" "$jitsi_root/etc/jitsi/meet/meet.jitsi-config.js" ||
		die "config.js does not take the BOSH URL from the node's public name"
	timed prosody-pin check_prosody_pin
	[[ ! -e $jitsi_root/etc/nginx/sites-enabled/meet.jitsi.conf && ! -e $jitsi_root/etc/nginx/sites-enabled/default ]] ||
		die "a packaged nginx site is still enabled"
}
step jitsi converge_jitsi

# The whole jitsi build again: jitsi.yml's second run, and base.yml's third, after jitsi.yml (so
# neither undoes the other).
idempotence() {
	local changed
	changed=$(packer_build jitsi "$jitsi_root" "$work/jitsi-again.log" | total)
	[[ $changed == 0 ]] || not_idempotent jitsi "$work/jitsi-again.log"
}
step idempotent idempotence

await control

# --- image: what packer's last step does, then the tarball a snapshot would be ----------------

image_root="$work/image"
image_tar="$work/image.tar"

make_image() {
	mv "$jitsi_root" "$image_root"
	rm -rf "$image_root/var/local/jitsi-standin"
	chroot "$image_root" /usr/local/sbin/ensemble-image-cleanup >"$work/cleanup.log" 2>&1 ||
		{ cat "$work/cleanup.log"; die "ensemble-image-cleanup failed"; }
	[[ ! -s $image_root/etc/machine-id ]] || die "the image has a machine ID"
	! compgen -G "$image_root/etc/ssh/ssh_host_*" >/dev/null || die "the image has SSH host keys"
	[[ ! -e $image_root/etc/ssl/ensemble/node.key ]] || die "the image has a TLS key"
	tar -C "$image_root" -cf "$image_tar" .
	echo "   image: $(du -m "$image_tar" | cut -f1) MB"
}
step image make_image

# --- 4. fleet: one image, three nodes, a Consul server with ACLs and TLS ------------------------

net=172.31.251
host_ip=$net.1
in_net() { ip netns exec "$netns" "$@"; }
in_node() { # NAME COMMAND...: in every namespace of the container
	local init
	init=$(container_init "$1")
	[[ -n $init ]] || { echo "container $1 does not run" >&2; return 1; }
	shift
	nsenter -t "$init" -a "$@"
}
# node_net NAME COMMAND...: a host command (curl) in the container's network namespace only.
node_net() {
	local init
	init=$(container_init "$1")
	[[ -n $init ]] || { echo "container $1 does not run" >&2; return 1; }
	shift
	nsenter -t "$init" -n "$@"
}
mgmt=$(cat /proc/sys/kernel/random/uuid)
consul_api() { # PATH: GET from the server with the management token
	in_net curl -sf --max-time 5 -H "X-Consul-Token: $mgmt" "http://127.0.0.1:8500$1"
}
acl() { in_net env CONSUL_HTTP_ADDR=127.0.0.1:8500 CONSUL_HTTP_TOKEN="$mgmt" "$consul_bin" acl "$@"; }

# poll TRIES COMMAND...: runs COMMAND every 0.2 s until it succeeds.
poll() {
	local tries=$1
	shift
	for _ in $(seq "$tries"); do
		"$@" && return 0
		sleep 0.2
	done
	return 1
}

consul_leader() { [[ $(consul_api /v1/status/leader 2>/dev/null) == *"$host_ip:8300"* ]]; }

start_fleet_network() {
	ip netns add "$netns"
	in_net ip link set lo up
	in_net ip link add ensbr0 type bridge
	in_net ip addr add "$host_ip/24" dev ensbr0
	in_net ip link set ensbr0 up

	# The datacenter's CA, the server's certificate, the gossip key (consul's own tooling).
	mkdir -p "$work/consul-tls" "$work/consul-server"
	(cd "$work/consul-tls" && "$consul_bin" tls ca create -days 2 >/dev/null &&
		"$consul_bin" tls cert create -server -dc dc1 -days 2 >/dev/null)
	gossip=$("$consul_bin" keygen)
	cat >"$work/consul-server.hcl" <<EOF2
datacenter       = "dc1"
node_name        = "ci-server"
data_dir         = "$work/consul-server"
server           = true
bootstrap_expect = 1
bind_addr        = "$host_ip"
client_addr      = "127.0.0.1"
encrypt          = "$gossip"
log_level        = "warn"
tls {
  defaults {
    ca_file         = "$work/consul-tls/consul-agent-ca.pem"
    cert_file       = "$work/consul-tls/dc1-server-consul-0.pem"
    key_file        = "$work/consul-tls/dc1-server-consul-0-key.pem"
    verify_incoming = true
    verify_outgoing = true
  }
  internal_rpc {
    verify_server_hostname = true
  }
}
auto_encrypt {
  allow_tls = true
}
acl {
  enabled        = true
  default_policy = "deny"
  tokens {
    initial_management = "$mgmt"
  }
}
EOF2
	# Not through in_net: a function in the background is a subshell, and $! must be the agent.
	ip netns exec "$netns" "$consul_bin" agent -config-file="$work/consul-server.hcl" >"$work/consul-server.log" 2>&1 &
	host_pids+=($!)
	poll 150 consul_leader || { tail -20 "$work/consul-server.log"; die "the Consul server elected no leader"; }

	# The policy files as shipped, and per-node tokens made from them.
	acl policy create -name ensemble-jitsi-sidecar -rules @"$repo/deploy/consul/jitsi-sidecar.hcl" >/dev/null
	acl policy create -name ensemble-selector -rules @"$repo/deploy/consul/selector.hcl" >/dev/null
	selector_token=$(acl token create -description selector -policy-name ensemble-selector -format=json | secret_id)
	echo "   consul: server with ACLs, TLS and auto_encrypt; policies of deploy/consul created"
}

secret_id() { sed -n 's/.*"SecretID": *"\([^"]*\)".*/\1/p' | head -1; }
accessor_id() { sed -n 's/.*"AccessorID": *"\([^"]*\)".*/\1/p' | head -1; }
declare -A sidecar_accessors=()
new_sidecar_token() { # NAME DESCRIPTION: sets sidecar_tokens[NAME] and sidecar_accessors[NAME]
	local json # the policy and the node's identity, for the node check the selector trusts (deploy/consul/README.md)
	json=$(acl token create -description "$2" -policy-name ensemble-jitsi-sidecar -node-identity "$1:dc1" -format=json)
	sidecar_tokens[$1]=$(secret_id <<<"$json")
	sidecar_accessors[$1]=$(accessor_id <<<"$json")
}

# The nodes' certificates: a CA of this run, one leaf per public name.
make_node_certificate() { # NAME
	local name=$1
	[[ -s $work/ca.crt ]] || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=Ensemble CI CA" -keyout "$work/ca.key" -out "$work/ca.crt" 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$name.ci.invalid" \
		-keyout "$work/$name.key" -out "$work/$name.csr" 2>/dev/null
	printf 'subjectAltName=DNS:%s.ci.invalid\n' "$name" >"$work/$name.ext"
	openssl x509 -req -in "$work/$name.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -CAcreateserial \
		-days 2 -extfile "$work/$name.ext" -out "$work/$name.crt" 2>/dev/null
}

indent() { sed 's/^/      /' "$1"; }

# write_user_data NAME [OMIT]: the node's user-data (docs/design/userdata.md) from the tokens in
# agent_<NAME>/sidecar_<NAME>; OMIT names a line to leave out (a broken node).
declare -A agent_tokens=() sidecar_tokens=() turn_secrets=()
write_user_data() {
	local name=$1 omit=${2:-}
	{
		cat <<EOF2
#cloud-config
ensemble:
  version: 1
  public_name: $name.ci.invalid
  region: ci-$name
  private_cidr: $net.0/24
  monitoring_sources: [$host_ip/32]
  tls:
    mode: provided
    certificate: |
$(indent "$work/$name.crt")
    key: |
$(indent "$work/$name.key")
  consul:
    datacenter: dc1
    retry_join: [$host_ip]
    encrypt: "$gossip"
    ca_certificate: |
$(indent "$work/consul-tls/consul-agent-ca.pem")
    agent_token: ${agent_tokens[$name]}
    sidecar_token: ${sidecar_tokens[$name]}
  turn:
    secret: ${turn_secrets[$name]}
EOF2
	} | { if [[ -n $omit ]]; then grep -v "^ *$omit:"; else cat; fi; } >"$work/$name.user-data"
}

# A node boots from a copy of the image. What the cloud provides is put in place the way it
# arrives there: the host name (cloud-init on Scaleway; a file here), the network (a network
# namespace of its own, wired to the test bridge by a veth pair) and the user-data where
# cloud-init keeps its copy.
declare -A node_ips=([node-a]=$net.11 [node-b]=$net.12 [node-c]=$net.13)
prepare_node() { # NAME
	local name=$1 root=$work/$1 ns=$netns-$1
	cp -a "$image_root" "$root"
	echo "$name" >"$root/etc/hostname"
	install_user_data "$name"
	ip netns add "$ns"
	ip -n "$netns" link add "vb-$name" type veth peer name host0 netns "$ns"
	ip -n "$netns" link set "vb-$name" master ensbr0 up
	ip -n "$ns" addr add "${node_ips[$name]}/24" dev host0
	ip -n "$ns" link set host0 up
	ip -n "$ns" link set lo up
}
install_user_data() { # NAME
	install -D -m 0600 "$work/$1.user-data" "$work/$1/var/lib/cloud/instance/user-data.txt"
}

# boot_node NAME: boots the node's root on the test bridge; returns once systemd has a PID 1.
boot_node() {
	local name=$1 root=$work/$1
	rm -f "$root/usr/sbin/policy-rc.d"
	# From the host's mount namespace (ip netns exec would hide the cgroup hierarchy from nspawn).
	systemd-nspawn -q --register=no --keep-unit -M "$name" --network-namespace-path="/run/netns/$netns-$name" \
		--capability=CAP_NET_ADMIN -D "$root" -b \
		</dev/null >"$root.boot.log" 2>&1 &
	nspawn_pids[$name]=$!
	local init=""
	for _ in $(seq 100); do
		init=$(container_init "$name")
		[[ -n $init ]] && break
		kill -0 "${nspawn_pids[$name]}" 2>/dev/null || { cat "$root.boot.log"; die "systemd-nspawn $name exited"; }
		sleep 0.1
	done
	[[ -n $init ]] || die "no systemd in $name"
}

# wait_system NAME WANT: waits for the boot to finish; the state must be WANT.
wait_system() {
	local name=$1 want=$2 state
	poll 50 in_node "$name" systemctl is-system-running >/dev/null 2>&1 || true
	state=$(timeout 120 nsenter -t "$(container_init "$name")" -a systemctl is-system-running --wait || true)
	echo "   $name: system $state"
	[[ $state == "$want" ]] || { dump_node "$name"; die "$name is '$state', not $want"; }
}

dump_node() {
	in_node "$1" systemctl --failed --no-pager || true
	in_node "$1" journalctl -b --no-pager -n 80 || true
}

require_active() { # NAME UNIT...
	local name=$1 unit
	shift
	for unit in "$@"; do
		in_node "$name" systemctl is-active --quiet "$unit" || { dump_node "$name"; die "$name: $unit is not active"; }
	done
}

# The node's metrics through its firewall, from the monitoring source (this namespace).
node_exports_up() { # NAME
	local metrics
	metrics=$(in_net curl -sf --max-time 2 "http://${node_ips[$1]}:9105/metrics") &&
		grep -qx 'ensemble_jvb_up 1' <<<"$metrics" && grep -qx 'ensemble_nginx_up 1' <<<"$metrics"
}

passing_urls() { # the public_url of every passing jitsi instance, sorted
	consul_api '/v1/health/service/jitsi?passing' | grep -o '"public_url":"[^"]*"' | sort
}
both_passing() {
	[[ $(passing_urls) == $'"public_url":"https://node-a.ci.invalid"\n"public_url":"https://node-b.ci.invalid"' ]]
}

# The SAN of the certificate the node serves, verified against the run's CA.
served_san() { # NAME
	in_net openssl s_client -connect "${node_ips[$1]}:443" -servername "$1.ci.invalid" -CAfile "$work/ca.crt" \
		-verify_return_error </dev/null 2>/dev/null | openssl x509 -noout -ext subjectAltName 2>/dev/null | tail -1 | tr -d ' '
}

boot_fleet() {
	start_fleet_network
	local name
	for name in node-a node-b node-c; do
		agent_tokens[$name]=$(acl token create -description "agent $name" -node-identity "$name:dc1" -format=json | secret_id)
		new_sidecar_token "$name" "sidecar $name"
		turn_secrets[$name]=$(openssl rand -hex 24)
		make_node_certificate "$name"
	done
	write_user_data node-a
	write_user_data node-b
	write_user_data node-c agent_token # broken: a required field is missing
	for name in node-a node-b node-c; do
		prepare_node "$name"
		boot_node "$name"
	done
	wait_system node-a running
	wait_system node-b running
	for name in node-a node-b; do
		require_active "$name" nftables ssh nginx prosody coturn jitsi-videobridge2 jicofo consul ensemble-sidecar
		[[ $(in_node "$name" systemctl show -p Result --value ensemble-firstboot.service) == success ]] ||
			{ dump_node "$name"; die "$name: ensemble-firstboot did not succeed"; }
		# What the first boot rendered passes the tools' own checks.
		in_node "$name" nft -c -f /etc/nftables.conf || die "$name: the rendered ruleset does not pass nft -c"
		in_node "$name" /usr/local/bin/consul validate -quiet /etc/consul.d/ >/dev/null ||
			die "$name: the rendered Consul configuration does not pass consul validate"
	done
	echo "   node-a, node-b: first boot succeeded; nft -c and consul validate pass on what it rendered"

	poll 300 both_passing ||
		{ passing_urls; in_node node-a journalctl -u consul -u ensemble-sidecar --no-pager -n 40; die "the two nodes are not passing in Consul with their own public_url"; }
	echo "   consul: both passing, public_url https://node-a.ci.invalid and https://node-b.ci.invalid"
	for name in node-a node-b; do
		poll 100 node_exports_up "$name" || die "$name does not export ensemble_jvb_up 1 to the monitoring source"
		[[ $(served_san "$name") == "DNS:$name.ci.invalid" ]] || die "$name does not serve its own certificate (SAN '$(served_san "$name")')"
	done
	echo "   metrics: ensemble_jvb_up 1 from both through their firewalls; each serves its own verified certificate"

	check_nginx node-a
	timed config.js check_config_js node-a
	timed xmpp+turn check_xmpp_turn node-a node-b
	timed prosody-down check_prosody_down node-b
	check_selector
	check_broken node-c
	check_image_secrets
	check_agent_restart node-b
	check_rotation node-b
}

# nginx: the room page over TLS by the node's name, a plain-HTTP redirect to the node's own name
# whatever Host was sent, no version in the Server header.
check_nginx() { # NAME
	local name=$1 ip=${node_ips[$1]} page headers
	page=$(in_net curl -sf --max-time 5 --cacert "$work/ca.crt" --resolve "$name.ci.invalid:443:$ip" \
		"https://$name.ci.invalid/some-room") || die "$name: no room page over TLS"
	grep -q 'ensemble stand-in jitsi-meet' <<<"$page" || die "$name: the room page is not Jitsi Meet's index"
	headers=$(in_net curl -s --max-time 5 -o /dev/null -D - -H 'Host: evil.example' "http://$ip/some-room")
	grep -qi "^location: https://$name.ci.invalid/some-room" <<<"$headers" ||
		{ echo "$headers"; die "$name: the HTTP redirect does not go to the node's own name"; }
	grep -qi '^server: nginx\s*$' <<<"$headers" || { echo "$headers"; die "$name: nginx shows its version"; }
	echo "   nginx: room page over TLS, redirect to its own name (Host ignored), no version"
}

# config.js as the mobile apps load it: fetched through the node's nginx and evaluated in a bare
# context (Node's vm: no location, no window, no document). It must not throw, and its hosts and
# service URLs must be the internal domain and this node's public name. A config that reads
# location (what the role used to write) must throw there: the evaluator can fail.
eval_config_js() { # FILE: prints the config's fields as JSON, or fails
	node -e '
const vm = require("vm"), fs = require("fs");
const box = {};
vm.runInNewContext(fs.readFileSync(process.argv[1], "utf8"), box, { timeout: 2000 });
const c = box.config;
console.log(JSON.stringify({ domain: c.hosts.domain, muc: c.hosts.muc, bosh: c.bosh, websocket: c.websocket }));
' "$1"
}
check_config_js() { # NAME
	local name=$1 ip=${node_ips[$1]} got want
	in_net curl -sf --max-time 5 --cacert "$work/ca.crt" --resolve "$name.ci.invalid:443:$ip" \
		-H 'User-Agent: Jitsi Meet SDK' "https://$name.ci.invalid/config.js" >"$work/$name-config.js" || die "$name: no config.js"
	got=$(eval_config_js "$work/$name-config.js" 2>&1) || { echo "$got" >&2; die "$name: config.js throws without a page"; }
	want="{\"domain\":\"meet.jitsi\",\"muc\":\"conference.meet.jitsi\",\"bosh\":\"https://$name.ci.invalid/http-bind\",\"websocket\":\"wss://$name.ci.invalid/xmpp-websocket\"}"
	[[ $got == "$want" ]] || die "$name: config.js evaluates to $got, want $want"
	printf '%s\nconfig.websocket = "wss://" + location.host + "/xmpp-websocket";\n' "$(cat "$work/$name-config.js")" >"$work/location-config.js"
	! eval_config_js "$work/location-config.js" >/dev/null 2>&1 || die "a config.js that reads location evaluates without a page: the check proves nothing"
	echo "   config.js: evaluates without location/window (node vm): domain meet.jitsi, muc conference.meet.jitsi, BOSH and WebSocket at $name.ci.invalid"
}

# bosh_services URL CURL_ARGS...: an anonymous XMPP session over BOSH (XEP-0206) for meet.jitsi,
# as a browser opens it; prints the answer to a XEP-0215 external services request.
bosh_services() {
	local url=$1 domain=meet.jitsi rid=$((RANDOM * 1000 + 1)) sid out ns="xmlns='http://jabber.org/protocol/httpbind'"
	shift
	local curl_args=("$@") reply="$work/bosh-reply"
	true >"$reply"
	# post BODY: one request; its reply in $out (not a subshell: rid must advance).
	post() {
		in_net curl -sf -m 10 "${curl_args[@]}" -H 'Content-Type: text/xml; charset=utf-8' --data-binary "$1" -o "$reply" "$url" || { out=""; return 1; }
		out=$(<"$reply")
		rid=$((rid + 1))
	}
	post "<body content='text/xml; charset=utf-8' hold='1' rid='$rid' to='$domain' ver='1.6' wait='5' xml:lang='en' xmpp:version='1.0' $ns xmlns:xmpp='urn:xmpp:xbosh'/>" ||
		{ echo "BOSH: no session at $url" >&2; return 1; }
	sid=$(sed -n "s/.* sid='\([^']*\)'.*/\1/p" <<<"$out")
	[[ -n $sid && $out == *'<mechanism>ANONYMOUS</mechanism>'* ]] || { echo "BOSH: no session or no ANONYMOUS: $out" >&2; return 1; }
	post "<body rid='$rid' sid='$sid' $ns><auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'/></body>"
	[[ $out == *'<success'* ]] || { echo "BOSH: anonymous login refused: $out" >&2; return 1; }
	post "<body rid='$rid' sid='$sid' to='$domain' xml:lang='en' xmpp:restart='true' $ns xmlns:xmpp='urn:xmpp:xbosh'/>"
	post "<body rid='$rid' sid='$sid' $ns><iq type='set' id='bind' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq></body>"
	[[ $out == *"<jid>"*"@$domain/"* ]] || { echo "BOSH: no resource bound: $out" >&2; return 1; }
	post "<body rid='$rid' sid='$sid' $ns><iq type='get' id='ext' to='$domain' xmlns='jabber:client'><services xmlns='urn:xmpp:extdisco:2'/></iq></body>"
	echo "$out"
	post "<body rid='$rid' sid='$sid' type='terminate' $ns><presence type='unavailable' xmlns='jabber:client'/></body>" || true
}

# service_attr XML TYPE ATTR: an attribute of the external service of that type.
service_attr() { grep -o "<service [^>]*type='$2'[^>]*>" <<<"$1" | head -1 | sed -n "s/.* $3='\([^']*\)'.*/\1/p"; }

# uclient NAME CLIENT SECONDS ARGS...: coturn's own test client (Debian's coturn package) in the
# client node; its output lands in $work/uclient-NAME.log. Its exit code says little (a refused
# client may wait out its timeout; a granted one waits for echoes no test peer sends), so the
# callers read what it printed. One at a time: parallel TLS clients stall coturn's handshakes.
uclient() {
	local name=$1 client=$2 seconds=$3
	shift 3
	in_node "$client" timeout "$seconds" turnutils_uclient -v -n 1 -m 1 -c "$@" >"$work/uclient-$name.log" 2>&1 || true
}

# The real XMPP and TURN round trip: an anonymous XMPP session over BOSH through the node's
# nginx to prosody 13 (with jitsi-meet-prosody's configuration, global TURN secret included)
# hands out TURN credentials for the node's public name, derived from the node's own secret
# (not the package's); coturn (TURN over TLS on 5349, from the client node) grants a relay with
# them, refuses a wrong password, a TCP relay and relays to loopback and private peers, and the
# firewall stops a relay to one of the node's own public addresses. prosody's configuration
# check passes and its error log stays empty.
check_xmpp_turn() { # NAME CLIENT
	local name=$1 client=$2 ip=${node_ips[$1]} services host port user pass want own=93.184.216.11 out
	services=$(bosh_services "https://$name.ci.invalid/http-bind" --cacert "$work/ca.crt" --resolve "$name.ci.invalid:443:$ip") ||
		die "$name: no anonymous XMPP session over BOSH through nginx"
	host=$(service_attr "$services" turns host)
	port=$(service_attr "$services" turns port)
	user=$(service_attr "$services" turns username)
	pass=$(service_attr "$services" turns password)
	[[ $host == "$name.ci.invalid" && $port == 5349 && -n $user && -n $pass ]] ||
		die "$name: XEP-0215 services name $host:$port (user '$user'), want $name.ci.invalid:5349 with credentials: $services"
	want=$(printf '%s' "$user" | openssl dgst -sha1 -hmac "${turn_secrets[$name]}" -binary | base64)
	[[ $pass == "$want" ]] || die "$name: prosody's TURN password is not derived from the node's turn.secret (the package's global external_service_secret won)"
	echo "   xmpp: anonymous BOSH session through nginx to prosody 13; XEP-0215 turns $host:$port, password from the node's secret"

	# The same round trip with a real XMPP client (ensemble-xmppcheck, lab): anonymous logins over
	# WebSocket and over BOSH through nginx, a MUC room joined on the conference domain (created
	# first by the focus user, as jicofo does: the package's MUC restricts room creation), and the
	# XEP-0215 TURN entries checked against the node's secret. The focus user's password is set
	# here: the stand-in package, like the real one, keeps it only in jicofo's configuration.
	openssl rand -hex 16 >"$work/focus-$name.pass"
	in_node "$name" prosodyctl register focus auth.meet.jitsi "$(cat "$work/focus-$name.pass")"
	printf '%s' "${turn_secrets[$name]}" >"$work/turn-$name.secret"
	in_net "$work/bin/ensemble-xmppcheck" --websocket-url="wss://$name.ci.invalid/xmpp-websocket" \
		--bosh-url="https://$name.ci.invalid/http-bind" --connect-address="$ip:443" --tls.ca-file="$work/ca.crt" \
		--domain=meet.jitsi --muc-domain=conference.meet.jitsi --creator-jid=focus@auth.meet.jitsi \
		--creator-password-file="$work/focus-$name.pass" --expect-turn-host="$name.ci.invalid" \
		--turn-secret-file="$work/turn-$name.secret" --timeout=30s >"$work/xmppcheck-$name.json" 2>"$work/xmppcheck-$name.log" ||
		{ cat "$work/xmppcheck-$name.json" "$work/xmppcheck-$name.log"; die "$name: ensemble-xmppcheck failed (WebSocket/BOSH login, MUC join or TURN entries)"; }
	echo "   xmpp: ensemble-xmppcheck logged in over WebSocket and BOSH through nginx, joined a MUC room, TURN entries match the node's secret"

	# A public address of the node's own (routed IPs sit on the interface): coturn may not relay there.
	node_net "$name" ip addr add "$own/32" dev host0
	# The allocation over TLS on 5349 (what a browser behind a UDP-blocking network uses); the
	# refusals over plain TCP on 3478, where coturn applies the same checks without a TLS
	# handshake per client.
	# Up to three tries: under load the client's TLS handshake sometimes stalls (it tries older
	# protocol versions first, which coturn refuses); a stalled try ends at its timeout.
	for _ in 1 2 3; do
		uclient ok "$client" 10 -t -S -p 5349 -u "$user" -w "$pass" -e 93.184.216.34 "$ip"
		grep -q 'Received relay addr' "$work/uclient-ok.log" && break
	done
	uclient own "$client" 8 -t -p 3478 -u "$user" -w "$pass" -e "$own" "$ip"
	uclient wrong "$client" 8 -t -p 3478 -u "$user" -w "x$pass" -e 93.184.216.34 "$ip"
	uclient tcp "$client" 5 -T -p 3478 -u "$user" -w "$pass" -e 93.184.216.34 "$ip"
	uclient loopback "$client" 8 -t -p 3478 -u "$user" -w "$pass" -e 127.0.0.1 "$ip"
	uclient private "$client" 8 -t -p 3478 -u "$user" -w "$pass" -e "${node_ips[$client]}" "$ip"
	grep -q 'Received relay addr' "$work/uclient-ok.log" || { cat "$work/uclient-ok.log"; die "$name: coturn granted no relay over TLS on 5349 with prosody's credentials"; }
	grep -q 'Cannot complete Allocation' "$work/uclient-wrong.log" || { cat "$work/uclient-wrong.log"; die "$name: coturn did not refuse a wrong password"; }
	grep -q 'error 442' "$work/uclient-tcp.log" || { cat "$work/uclient-tcp.log"; die "$name: coturn did not refuse a TCP relay"; }
	for peer in loopback private; do
		grep -q 'error 403' "$work/uclient-$peer.log" || { cat "$work/uclient-$peer.log"; die "$name: coturn did not refuse a relay to a $peer peer"; }
	done
	# The node's own public address: refused by coturn, or its packets rejected by the firewall.
	out=$(in_node "$name" nft list chain inet filter output)
	out=$(grep -o 'fib daddr type local counter packets [0-9]*' <<<"$out" | grep -o '[0-9]*$' || true)
	if grep -q 'error 403' "$work/uclient-own.log"; then
		out="refused by coturn (403)"
	elif [[ ${out:-0} -gt 0 ]]; then
		out="$out packets rejected by the firewall"
	else
		cat "$work/uclient-own.log"
		die "$name: coturn relayed to the node's own address $own"
	fi
	node_net "$name" ip addr del "$own/32" dev host0
	echo "   turn: relay over TLS on 5349 with those credentials; refused (TCP on 3478): wrong password, TCP relay (442), loopback and private peers (403); to its own address $own: $out"

	out=$(in_node "$name" prosodyctl check config 2>&1) && [[ $out == *'All checks passed'* ]] ||
		{ echo "$out"; die "$name: prosodyctl check config reports problems"; }
	out=$(in_node "$name" cat /var/log/prosody/prosody.err)
	[[ -z $out ]] || { echo "$out"; die "$name: prosody logged errors"; }
	echo "   prosody: prosodyctl check config passes; error log empty after the round trip"
}

# A node whose prosody is down leaves selection (its /health fails, Consul's check with it) and
# comes back when prosody does. Needs the sidecar's prosody probe (--health.prosody).
node_passing() { [[ $(consul_api '/v1/health/service/jitsi?passing') == *"\"public_url\":\"https://$1.ci.invalid\""* ]]; }
node_failing() { ! node_passing "$1"; }
check_prosody_down() { # NAME
	local name=$1
	# Not `--help | grep -q`: grep's early exit would kill the sidecar with SIGPIPE (pipefail).
	if [[ $("$work/bin/ensemble-sidecar" --help 2>&1) != *--health.prosody* ]]; then
		echo "   prosody down: NOT RUN: this ensemble-sidecar has no prosody probe (--health.prosody) yet" >&2
		return 0
	fi
	in_node "$name" systemctl stop prosody
	poll 300 node_failing "$name" || die "$name is still passing with prosody stopped"
	in_node "$name" systemctl start prosody
	poll 300 both_passing || die "$name is not passing again after prosody started"
	echo "   $name: prosody stopped -> out of selection (Consul check failing); started -> passing again"
}

# A selector in this namespace (the control host's place) reading the real Consul server and
# each node's sidecar: new rooms land on both nodes, each redirect names the node it chose.
selector_ready() { in_net curl -sf --max-time 2 http://127.0.0.1:18080/-/ready >/dev/null; }
check_selector() {
	ip netns exec "$netns" env CONSUL_HTTP_ADDR=127.0.0.1:8500 CONSUL_HTTP_TOKEN="$selector_token" "$work/bin/ensemble-selector" \
		--web.listen-address=127.0.0.1:18080 --nodes.allowed-domains=ci.invalid --load.source=direct --rooms.store=consul \
		>"$work/selector.log" 2>&1 &
	host_pids+=($!)
	poll 150 selector_ready || { tail -20 "$work/selector.log"; die "the selector is not ready"; }
	local i location a=0 b=0
	for i in $(seq 12); do
		location=$(in_net curl -s --max-time 5 -o /dev/null -w '%{redirect_url}' "http://127.0.0.1:18080/room-$i")
		case $location in
		"https://node-a.ci.invalid/room-$i") a=$((a + 1)) ;;
		"https://node-b.ci.invalid/room-$i") b=$((b + 1)) ;;
		*) tail -20 "$work/selector.log"; die "room-$i was sent to '$location'" ;;
		esac
	done
	echo "   selector: 12 new rooms, $a to node-a and $b to node-b, each redirected to its node's name"
	((a > 0 && b > 0)) || die "the selector did not spread new rooms over both nodes"
}

# The broken node: its first boot names the missing field in the journal and on /health, and it
# never appears in Consul (its agent does not even start).
check_broken() { # NAME
	local name=$1 health
	wait_system "$name" degraded
	in_node "$name" journalctl -u ensemble-firstboot --no-pager | grep -q 'ensemble.consul.agent_token' ||
		{ in_node "$name" journalctl -u ensemble-firstboot --no-pager; die "$name: the journal does not name the missing field"; }
	health=$(node_net "$name" curl -s --max-time 5 -w ' %{http_code}' http://127.0.0.1:9105/health || true)
	[[ $health == *ensemble.consul.agent_token*' 503' ]] || die "$name: /health does not say why (got: $health)"
	! consul_api /v1/catalog/nodes | grep -q "\"$name\"" || die "$name appears in Consul"
	! in_node "$name" systemctl is-active --quiet consul || die "$name: consul runs without a configuration"
	echo "   $name (no agent_token): not in Consul; journal and /health (503) name ensemble.consul.agent_token"
}

# No secret and no node name of this run is in the image a snapshot would be made of.
check_image_secrets() {
	local name hits=0 value
	local values=("$gossip" "$mgmt" "$selector_token")
	for name in node-a node-b node-c; do
		values+=("${agent_tokens[$name]}" "${sidecar_tokens[$name]}" "${turn_secrets[$name]}" "$name.ci.invalid")
		# the private key's base64 body, line by line
		while read -r value; do values+=("$value"); done < <(grep -v -- '-----' "$work/$name.key")
	done
	while read -r value; do values+=("$value"); done < <(grep -v -- '-----' "$work/consul-tls/consul-agent-ca-key.pem")
	for value in "${values[@]}"; do
		[[ -n $value ]] || continue
		if grep -qaF -- "$value" "$image_tar"; then
			echo "   in the image: ${value:0:12}..." >&2
			hits=$((hits + 1))
		fi
	done
	[[ $hits == 0 ]] || die "the image tarball holds $hits secret or node-specific values"
	echo "   image: none of ${#values[@]} secrets and node names of this run in the tarball"
}

# outputs_state NAME: checksum and mtime of every file the first boot writes.
outputs_state() {
	in_node "$1" sh -c 'for f in $(python3 -c "import json; [print(o[\"dest\"]) for o in json.load(open(\"/etc/ensemble/firstboot/outputs.json\"))]") /etc/ssl/ensemble/node.crt /etc/ssl/ensemble/node.key; do
		printf "%s %s\n" "$(sha256sum "$f" | cut -c1-16)" "$(stat -c "%Y %a %U:%G %n" "$f")"; done'
}

reboot_node() { # NAME WANT
	stop_container "$1"
	install_user_data "$1"
	boot_node "$1"
	wait_system "$1" running
}

# The CreateIndex of NAME's jitsi service in the catalog: a registration made anew gets a new one.
service_created() { # NAME
	consul_api /v1/catalog/service/jitsi | python3 -c 'import json, sys
url = "https://" + sys.argv[1] + ".ci.invalid"
print(*[s["CreateIndex"] for s in json.load(sys.stdin) if s["ServiceMeta"].get("public_url") == url])' "$1"
}

# A restart of a node's Consul agent keeps the node's registration: the agent does not leave the
# cluster on SIGTERM (leave_on_terminate = false; a client's default is to leave, which deregisters
# the node's services), so the service keeps its CreateIndex, and it passes again.
check_agent_restart() { # NAME
	local name=$1 before after
	before=$(service_created "$name")
	[[ $before =~ ^[0-9]+$ ]] || die "$name: no single jitsi service in the catalog ($before)"
	in_node "$name" systemctl restart consul || die "$name: the Consul agent does not restart"
	poll 300 both_passing || die "$name is not passing again after its Consul agent restarted"
	after=$(service_created "$name")
	[[ $after == "$before" ]] ||
		die "$name: a restart of its Consul agent registered the service anew (CreateIndex $before -> $after): the agent left the cluster"
	echo "   $name: Consul agent restarted, registration kept (CreateIndex $before), passing again"
}

# A new sidecar token in the user-data is applied at the next boot; the old one is deleted first,
# so passing again proves the node registered with the new one. The reboot also proves the first
# boot idempotent: every other rendered file keeps its content, mode, owner and mtime (one reboot
# for both; a reboot with unchanged user-data was a separate step before).
check_rotation() { # NAME
	local name=$1 old=${sidecar_accessors[$1]} new before after token=/etc/ensemble-sidecar/consul-token
	new_sidecar_token "$name" "sidecar $name rotated"
	new=${sidecar_tokens[$name]}
	write_user_data "$name"
	acl token delete -accessor-id "$old" >/dev/null || die "could not delete the old token of $name"
	before=$(outputs_state "$name" | grep -v " $token\$")
	reboot_node "$name"
	after=$(outputs_state "$name")
	[[ $(grep -v " $token\$" <<<"$after") == "$before" ]] ||
		{ diff <(echo "$before") <(grep -v " $token\$" <<<"$after"); die "$name: a reboot changed rendered files other than the rotated token"; }
	grep -q " $token\$" <<<"$after" || die "$name: the token file is not among the first boot's outputs"
	[[ $(in_node "$name" cat "$token") == "$new" ]] || die "$name: the rotated token was not written"
	poll 300 both_passing || { in_node "$name" journalctl -u ensemble-sidecar --no-pager -n 20; die "$name is not passing with its rotated token"; }
	echo "   $name rebooted: rotated sidecar token applied (old one deleted), no other rendered file changed (content, mode, owner, mtime), passing again"
}
step fleet boot_fleet

# --- rolling: jitsi.yml against the two running nodes, a conference on one ---------------------

bridge_started() { in_node "$1" systemctl show -p ActiveEnterTimestampMonotonic --value jitsi-videobridge2; }
drain_state() { node_net "$1" curl -sf --max-time 2 http://127.0.0.1:9106/drain | grep -o '"state":"[a-z]*"' | cut -d'"' -f4; }
node_draining() { [[ $(drain_state "$1") == draining ]]; }

rolling() {
	# The control listener is shared contract #2 (the sidecar's --web.control-address).
	# Not `--help | grep -q`: grep's early exit would kill the sidecar with SIGPIPE (pipefail).
	if [[ $("$work/bin/ensemble-sidecar" --help 2>&1) != *--web.control-address* ]]; then
		echo "   rolling: NOT RUN: this ensemble-sidecar has no --web.control-address (control listener) yet" >&2
		return 0
	fi
	printf '[jitsi]\nnode-a ansible_host=%s\nnode-b ansible_host=%s\n[jitsi:vars]\nansible_user=root\nansible_ssh_private_key_file=%s\nansible_ssh_common_args="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"\n' \
		"${node_ips[node-a]}" "${node_ips[node-b]}" "$work/ssh-key" >"$work/fleet.ini"
	# A change that needs a bridge restart on both (their jvb.conf lost the role's block), and a
	# conference on node-a.
	local name
	for name in node-a node-b; do
		sed -i '/BEGIN ANSIBLE MANAGED BLOCK ensemble/,/END ANSIBLE MANAGED BLOCK ensemble/d' "$work/$name/etc/jitsi/videobridge/jvb.conf"
	done
	# node-a runs an older first-boot template, applied: the play must bring the new one into
	# effect without a reboot (nginx serves the redirect it renders).
	local tmpl=/etc/ensemble/firstboot/templates/nginx-redirect.conf.tmpl
	printf 'return 301 https://old-template.invalid$request_uri;\n' | tee "$work/node-a$tmpl" >"$work/node-a/etc/nginx/snippets/ensemble-redirect.conf"
	in_node node-a systemctl reload nginx
	poll 50 redirects_to node-a old-template.invalid || die "node-a: the older template's redirect is not in effect"
	declare -A others_before=()
	for name in node-a node-b; do others_before[$name]=$(started "$name" prosody coturn consul nginx); done
	local conf a_before b_before
	conf=$(node_net node-a curl -sf --max-time 5 -X POST -H 'Content-Type: application/json' -d '{"size":3}' \
		http://127.0.0.1:8080/emulator/conferences | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
	[[ -n $conf ]] || die "could not start a conference on node-a"
	a_before=$(bridge_started node-a)
	b_before=$(bridge_started node-b)
	# The play reaches the nodes over SSH from this namespace; the package install is skipped
	# (the test network has no Debian mirror).
	(cd "$repo/ansible" && exec ip netns exec "$netns" ansible-playbook -i "$work/fleet.ini" -e @"$work/vars.yml" \
		-e jitsi_sidecar_binary_src="$work/bin/ensemble-sidecar" -e jitsi_drain_poll=1 -e jitsi_drain_timeout=120 \
		--skip-tags jitsi_install jitsi.yml) >"$work/rolling.log" 2>&1 &
	local play=$!
	poll 300 node_draining node-a || { kill "$play" 2>/dev/null || true; tail -30 "$work/rolling.log"; die "node-a did not start draining"; }
	# While the meeting lasts the play waits; the bridge keeps running.
	sleep 3
	[[ $(drain_state node-a) == draining && $(bridge_started node-a) == "$a_before" ]] ||
		{ kill "$play" 2>/dev/null || true; die "node-a's bridge restarted or its drain ended while it had a conference"; }
	[[ $(bridge_started node-b) == "$b_before" ]] || { kill "$play" 2>/dev/null || true; die "node-b changed before node-a was done (serial)"; }
	node_net node-a curl -sf --max-time 5 -X DELETE "http://127.0.0.1:8080/emulator/conferences/$conf" >/dev/null
	wait "$play" || { tail -40 "$work/rolling.log"; die "jitsi.yml failed (log: $work/rolling.log)"; }
	for name in node-a node-b; do
		[[ $(drain_state "$name") == serving ]] || die "$name is not serving after the rolling change"
	done
	[[ $(bridge_started node-a) != "$a_before" && $(bridge_started node-b) != "$b_before" ]] ||
		die "the rolling change did not restart the bridges"
	poll 300 both_passing || die "the nodes are not both passing after the rolling change"
	echo "   rolling: node-a drained and waited for its conference, then each bridge restarted in turn; both serving and passing"
	poll 50 redirects_to node-a node-a.ci.invalid || die "node-a: the role's first-boot template did not take effect without a reboot"
	for name in node-a node-b; do
		[[ $(started "$name" prosody coturn consul nginx) == "${others_before[$name]}" ]] ||
			die "$name: applying user-data restarted prosody, coturn, consul or nginx (Requires= on ensemble-firstboot)"
	done
	echo "   rolling: node-a's changed first-boot template applied and nginx reloaded, no reboot; prosody, coturn, consul, nginx not restarted"
	timed sidecar-down check_rolling_sidecar_down node-b
}

started() { # NAME UNIT...: when each unit last entered active (a restart changes it)
	local name=$1 unit
	shift
	for unit in "$@"; do in_node "$name" systemctl show -p ActiveEnterTimestampMonotonic --value "$unit"; done
}
redirects_to() { # NAME HOST: plain HTTP to the node redirects to https://HOST/
	local headers
	headers=$(in_net curl -s --max-time 5 -o /dev/null -D - "http://${node_ips[$1]}/room") &&
		grep -qi "^location: https://$2/room" <<<"$headers"
}

# A node whose sidecar is down cannot be drained: the play fails (it does not skip the drain)
# and says what state the node is in and how to bring it back.
check_rolling_sidecar_down() { # NAME
	local name=$1
	in_node "$name" systemctl stop ensemble-sidecar
	if (cd "$repo/ansible" && exec ip netns exec "$netns" ansible-playbook -i "$work/fleet.ini" -l "$name" -e @"$work/vars.yml" \
		-e jitsi_sidecar_binary_src="$work/bin/ensemble-sidecar" --skip-tags jitsi_install jitsi.yml) >"$work/rolling-down.log" 2>&1; then
		die "jitsi.yml went on with $name's sidecar down"
	fi
	grep -q "ensemble-sidecar on $name is inactive" "$work/rolling-down.log" && grep -q '/undrain' "$work/rolling-down.log" ||
		{ tail -30 "$work/rolling-down.log"; die "jitsi.yml failed on $name's stopped sidecar without saying its state and the undrain command"; }
	in_node "$name" systemctl start ensemble-sidecar
	poll 300 both_passing || die "$name is not passing again after its sidecar started"
	echo "   rolling: $name's sidecar stopped: jitsi.yml fails, naming the state and the undrain command"
}
step rolling rolling

stop_fleet() {
	local name pid
	for name in node-a node-b node-c; do stop_container "$name"; done
	for pid in "${host_pids[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true # the status of a killed process
	done
	host_pids=()
	for name in node-a node-b node-c; do ip netns del "$netns-$name"; done
	ip netns del "$netns"
}
step fleet-stop stop_fleet

# --- 5. boot the control host --------------------------------------------------------------------

selector_healthy() {
	node_net control curl -sf --max-time 2 --cacert "$work/selector.crt" \
		--resolve selector.ci.invalid:443:127.0.0.1 https://selector.ci.invalid/-/healthy >/dev/null
}

prometheus_ready() {
	node_net control curl -sf --max-time 2 http://127.0.0.1:9090/-/ready >/dev/null
}

# The monitoring role's target list reaches the selector: its first scrape lands within one
# scrape interval (15 s).
prometheus_scrapes_selector() {
	local body
	body=$(node_net control curl -sf --max-time 2 --get --data-urlencode 'query=up{job="ensemble-selector"}' \
		http://127.0.0.1:9090/api/v1/query) && grep -q '"1"\]' <<<"$body"
}

boot_control() {
	rm -f "$control_root/usr/sbin/policy-rc.d" "$control_root"/etc/ssh/ssh_host_*
	truncate -s 0 "$control_root/etc/machine-id"
	# --private-network: only loopback, so nothing reaches outside and nftables may load its rules.
	systemd-nspawn -q --register=no --keep-unit --private-network -M control -D "$control_root" -b \
		</dev/null >"$control_root.boot.log" 2>&1 &
	nspawn_pids[control]=$!
	for _ in $(seq 100); do
		[[ -n $(container_init control) ]] && break
		sleep 0.1
	done
	wait_system control running
	require_active control nftables ssh nginx consul ensemble-selector prometheus
	in_node control /usr/local/bin/consul validate -quiet /etc/consul.d/ >/dev/null || die "control: consul validate fails"
	poll 100 selector_healthy ||
		{ in_node control journalctl -u ensemble-selector -u nginx --no-pager -n 30; die "selector not healthy through nginx with TLS"; }
	echo "   selector: /-/healthy through nginx with TLS"
	poll 100 prometheus_ready || { in_node control journalctl -u prometheus --no-pager -n 30; die "prometheus not ready"; }
	poll 150 prometheus_scrapes_selector ||
		{ node_net control curl -s http://127.0.0.1:9090/api/v1/targets; die "prometheus does not scrape the selector"; }
	echo "   prometheus: ready, selector target up"
	stop_container control
}
step boot-control boot_control

echo "== timings"
printf '   %s\n' "${timings[@]}"
echo "test-images: ok"
