#!/usr/bin/env bash
# make test-images: proves that the packer templates and Ansible roles bake a working Jitsi node,
# without a cloud account and without reaching Jitsi's servers.
#
#   1. lint       ansible-lint, --syntax-check per playbook, packer fmt -check / init / validate
#   2. converge   packer build of the base and jitsi templates' CI source into debootstrap roots
#                 (the real ansible provisioner over Ansible's chroot connection), then the same
#                 builds again, which must report changed=0
#   3. stand-ins  Jitsi's packages are built with equivs into a signed local apt repository that the
#                 jitsi role's repository variables point at; the videobridge stand-in runs
#                 ensemble-jvbemu as the bridge
#   control       selector.yml and monitoring.yml converge (twice, changed=0) into another copy of
#                 the base root: the control host
#   4. boot       systemd-nspawn boots the jitsi root; through nsenter on its PID 1 the system must be
#                 running, the services active, the sidecar registered in Consul and exporting
#                 ensemble_jvb_up 1 and ensemble_nginx_up 1; then the control root, whose selector
#                 must answer through nginx with TLS and whose Prometheus must be ready and scraping
#                 the selector
#
# Runs as root on the CI host. Everything it creates lives under one temporary directory (roots,
# repository, keys, logs) and the cache directory; the trap stops the container and removes it all.
# ENSEMBLE_IMAGES_KEEP=1 keeps the work directory for debugging.
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
for tool in ansible-lint ansible-playbook debootstrap systemd-nspawn nsenter equivs-build reprepro gpg openssl curl go; do
	command -v "$tool" >/dev/null || die "$tool missing: run scripts/install-deps.sh"
done

work=$(mktemp -d /tmp/ensemble-images.XXXXXX)
nspawn_pid=""

stop_container() {
	[[ -n $nspawn_pid ]] && kill -0 "$nspawn_pid" 2>/dev/null || return 0
	local init
	init=$(pgrep -P "$nspawn_pid" | head -1 || true)
	[[ -n $init ]] && nsenter -t "$init" -a systemctl poweroff >/dev/null 2>&1 || true
	for _ in $(seq 100); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.2; done
	if kill -0 "$nspawn_pid" 2>/dev/null; then
		kill -TERM "$nspawn_pid" 2>/dev/null || true
		sleep 2
		kill -KILL "$nspawn_pid" 2>/dev/null || true
	fi
	wait "$nspawn_pid" 2>/dev/null || true
	nspawn_pid=""
}

cleanup() {
	local rc=$?
	set +e
	stop_container
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
step() { # step NAME FUNCTION: runs it, records its wall time
	local name=$1 start
	shift
	echo "== $name"
	start=$EPOCHREALTIME
	"$@"
	timings+=("$(awk -v n="$name" -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN{printf "%-12s %6.1f s", n, b - a}')")
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
	"$PACKER" validate -var base_image=11111111-1111-1111-1111-111111111111 \
		-var manifest="$work/manifest.json" "$repo/packer"
}
step lint lint

# --- 2. converge --------------------------------------------------------------------------------

build_binaries() {
	mkdir -p "$work/bin"
	(cd "$repo" && go build -trimpath -ldflags='-s -w' -o "$work/bin/" ./cmd/ensemble-sidecar ./cmd/ensemble-jvbemu)
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
	find "$1/var/cache/apt/archives" -maxdepth 1 -name '*.deb' -exec cp -l -n -t "$apt_cache/" {} +
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
	mkdir -p "$base_root"
	tar -C "$base_root" -xf "$root_tar"
	# Keep package scripts from starting services: without systemd as PID 1, invoke-rc.d would
	# fall back to init scripts and start nginx & co. in the host's network namespace. Removed
	# before the boot test.
	printf '#!/bin/sh\nexit 101\n' >"$base_root/usr/sbin/policy-rc.d"
	chmod 0755 "$base_root/usr/sbin/policy-rc.d"
}
step root make_root

# Secrets of this run only: a one-server Consul datacenter inside the image, with ACLs on.
token=$(cat /proc/sys/kernel/random/uuid)
cat >"$work/vars.yml" <<EOF
base_consul_server: true
base_consul_bootstrap_expect: 1
base_consul_bind_addr: 127.0.0.1
base_consul_retry_join: ["127.0.0.1"]
base_consul_encrypt: "$(head -c32 /dev/urandom | base64)"
base_consul_agent_token: "$token"
base_consul_initial_management_token: "$token"
jitsi_public_name: meet.ci.invalid
jitsi_apt_key_url: file:///var/local/jitsi-standin/key.asc
jitsi_apt_repository: "deb [signed-by=/etc/apt/keyrings/jitsi.asc] file:/var/local/jitsi-standin $suite main"
jitsi_sidecar_consul_token: "$token"
EOF

# packer_build NAME ROOT LOG: the template's CI source into ROOT; prints the PLAY RECAP's changed=.
packer_build() {
	local name=$1 root=$2 log=$3
	if ! (cd "$repo" && "$PACKER" build -color=false -only="$name.null.ci" \
		-var ci_chroot="$root" -var ansible_vars_file="$work/vars.yml" \
		-var consul_binary="$consul_bin" -var sidecar_binary="$work/bin/ensemble-sidecar" \
		-var manifest="$work/manifest.json" \
		packer/) >"$log" 2>&1; then
		grep -E 'fatal:|FAILED|Error' "$log" | tail -20 >&2
		die "packer build $name failed (log: $log)"
	fi
	local recap
	recap=$(grep -E "$name\.null\.ci: default +: ok=" "$log") || die "no PLAY RECAP in $log"
	echo "   $recap" >&2
	sed -E 's/.* changed=([0-9]+) .*/\1/' <<<"$recap"
}

# not_idempotent NAME LOG: names the tasks that changed on a second run, then fails.
not_idempotent() {
	echo "tasks that changed again:" >&2
	grep -B3 -E 'changed: \[' "$2" | grep -E 'TASK \[' >&2 || true
	die "$1 is not idempotent"
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
	key=$(cat "$src"/* "$work/bin/ensemble-jvbemu" | sha256sum | cut -c1-12)
	debs="$cache/images/standin-$key"
	if [[ ! -d $debs ]]; then
		mkdir -p "$work/equivs"
		cp "$src"/* "$work/bin/ensemble-jvbemu" "$work/equivs/"
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
}
step standin standin_repo

# --- converge jitsi on a copy of the base root, then idempotence -------------------------------

converge_jitsi() {
	cp -a "$base_root" "$jitsi_root"
	# The repository lives inside the root: apt there reads it through a file: URI.
	mkdir -p "$jitsi_root/var/local/jitsi-standin"
	cp -r "$work/repo/dists" "$work/repo/pool" "$work/repo/key.asc" "$jitsi_root/var/local/jitsi-standin/"
	apt_cache_in "$jitsi_root"
	packer_build jitsi "$jitsi_root" "$work/jitsi.log" >/dev/null
	apt_cache_out "$jitsi_root"
}
step jitsi converge_jitsi

idempotence() {
	local changed
	changed=$(packer_build base "$base_root" "$work/base-again.log")
	[[ $changed == 0 ]] || not_idempotent base "$work/base-again.log"
	changed=$(packer_build jitsi "$jitsi_root" "$work/jitsi-again.log")
	[[ $changed == 0 ]] || not_idempotent jitsi "$work/jitsi-again.log"
}
step idempotent idempotence

# --- control host: selector and monitoring roles on another copy of the base root ------------

control_root="$work/control"

control_playbooks() { # LOG: runs selector.yml and monitoring.yml; prints the summed changed=
	local log=$1
	if ! (cd "$repo/ansible" && ansible-playbook -i "$work/control.ini" -e @"$work/vars.yml" \
		selector.yml monitoring.yml) >"$log" 2>&1; then
		grep -E 'fatal:|FAILED|ERROR' "$log" | tail -20 >&2
		die "control playbooks failed (log: $log)"
	fi
	grep -E '^control +: ok=' "$log" | sed -E 's/.* changed=([0-9]+) .*/\1/' | awk '{n += $1} END {print n + 0}'
}

converge_control() {
	cp -a "$base_root" "$control_root"
	(cd "$repo" && go build -trimpath -ldflags='-s -w' -o "$work/bin/" ./cmd/ensemble-selector)
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=selector.ci.invalid \
		-addext subjectAltName=DNS:selector.ci.invalid -keyout "$work/selector.key" -out "$work/selector.crt" 2>/dev/null
	printf '[selector]\ncontrol\n[monitoring]\ncontrol\n[all:vars]\nansible_connection=community.general.chroot\nansible_host=%s\n' \
		"$control_root" >"$work/control.ini"
	{
		echo "selector_public_name: selector.ci.invalid"
		echo "selector_tls_certificate_src: $work/selector.crt"
		echo "selector_tls_key_src: $work/selector.key"
		echo "selector_binary_src: $work/bin/ensemble-selector"
		echo "selector_consul_token: \"$token\""
	} >>"$work/vars.yml"
	apt_cache_in "$control_root"
	control_playbooks "$work/control.log" >/dev/null
	apt_cache_out "$control_root"
	local changed
	changed=$(control_playbooks "$work/control-again.log")
	[[ $changed == 0 ]] || not_idempotent selector/monitoring "$work/control-again.log"
}
step control converge_control

# --- 4. boot ------------------------------------------------------------------------------------

in_container() { nsenter -t "$init" -a "$@"; }

dump_container() {
	in_container systemctl --failed --no-pager || true
	in_container journalctl -b --no-pager -n 60 || true
}

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

# start_container ROOT: boots ROOT as an instance boots the image and waits until systemd reports
# the system running; sets nspawn_pid and init (the container's PID 1).
start_container() {
	local root=$1
	rm -f "$root/usr/sbin/policy-rc.d"
	# What the Scaleway builds strip from an image (packer's image_cleanup): the instance must
	# recreate its host keys and machine ID.
	rm -f "$root"/etc/ssh/ssh_host_*
	truncate -s 0 "$root/etc/machine-id"
	# --private-network: only loopback, so nothing reaches outside and nftables may load its rules.
	systemd-nspawn -q --register=no --keep-unit --private-network -D "$root" -b \
		</dev/null >"$root.boot.log" 2>&1 &
	nspawn_pid=$!
	init=""
	for _ in $(seq 100); do
		init=$(pgrep -P "$nspawn_pid" -x systemd | head -1 || true)
		[[ -n $init ]] && break
		kill -0 "$nspawn_pid" 2>/dev/null || { cat "$root.boot.log"; die "systemd-nspawn exited"; }
		sleep 0.1
	done
	[[ -n $init ]] || die "no systemd in the container"
	# systemctl answers once PID 1 has set up its private socket.
	poll 50 in_container systemctl is-system-running >/dev/null 2>&1 || true
	local state
	state=$(timeout 120 nsenter -t "$init" -a systemctl is-system-running --wait || true)
	echo "   system: $state"
	[[ $state == running ]] || { dump_container; die "system is '$state', not running"; }
}

require_active() {
	local unit
	for unit in "$@"; do
		in_container systemctl is-active --quiet "$unit" || { dump_container; die "$unit is not active"; }
	done
	echo "   active: $*"
}

# The HTTP checks run in the container's network namespace with the host's curl.
sidecar_reports_up() {
	local metrics
	metrics=$(nsenter -t "$init" -n curl -sf --max-time 2 http://127.0.0.1:9105/metrics) &&
		grep -qx 'ensemble_jvb_up 1' <<<"$metrics" && grep -qx 'ensemble_nginx_up 1' <<<"$metrics"
}

node_passing() {
	local body
	body=$(nsenter -t "$init" -n curl -sf --max-time 2 -H "X-Consul-Token: $token" \
		'http://127.0.0.1:8500/v1/health/service/jitsi?passing') && grep -q '"ServiceName":"jitsi"' <<<"$body"
}

boot_jitsi() {
	start_container "$jitsi_root"
	require_active nftables ssh nginx jitsi-videobridge2 consul ensemble-sidecar
	# The jitsi role's rule file made it into the loaded ruleset.
	local rules
	rules=$(in_container nft list chain inet filter input)
	grep -q 'udp dport 10000 accept' <<<"$rules" || { echo "$rules"; die "the jitsi ports are not in the loaded firewall"; }
	poll 100 sidecar_reports_up ||
		{ in_container journalctl -u ensemble-sidecar --no-pager -n 30; die "sidecar does not report the bridge and nginx up"; }
	echo "   metrics: ensemble_jvb_up 1, ensemble_nginx_up 1"
	# The sidecar registered with its ACL token and Consul's check of it passes.
	poll 100 node_passing ||
		{ in_container journalctl -u ensemble-sidecar -u consul --no-pager -n 40; die "node not passing in Consul"; }
	echo "   consul: jitsi service registered and passing"
	stop_container
}
step boot-jitsi boot_jitsi

selector_healthy() {
	nsenter -t "$init" -n curl -sf --max-time 2 --cacert "$work/selector.crt" \
		--resolve selector.ci.invalid:443:127.0.0.1 https://selector.ci.invalid/-/healthy >/dev/null
}

prometheus_ready() {
	nsenter -t "$init" -n curl -sf --max-time 2 http://127.0.0.1:9090/-/ready >/dev/null
}

# The monitoring role's target list reaches the selector: its first scrape lands within one
# scrape interval (15 s).
prometheus_scrapes_selector() {
	local body
	body=$(nsenter -t "$init" -n curl -sf --max-time 2 --get --data-urlencode 'query=up{job="ensemble-selector"}' \
		http://127.0.0.1:9090/api/v1/query) && grep -q '"1"\]' <<<"$body"
}

boot_control() {
	start_container "$control_root"
	require_active nftables ssh nginx consul ensemble-selector prometheus
	poll 100 selector_healthy ||
		{ in_container journalctl -u ensemble-selector -u nginx --no-pager -n 30; die "selector not healthy through nginx with TLS"; }
	echo "   selector: /-/healthy through nginx with TLS"
	poll 100 prometheus_ready || { in_container journalctl -u prometheus --no-pager -n 30; die "prometheus not ready"; }
	poll 150 prometheus_scrapes_selector ||
		{ nsenter -t "$init" -n curl -s http://127.0.0.1:9090/api/v1/targets; die "prometheus does not scrape the selector"; }
	echo "   prometheus: ready, selector target up"
	stop_container
}
step boot-control boot_control

echo "== timings"
printf '   %s\n' "${timings[@]}"
echo "test-images: ok"
