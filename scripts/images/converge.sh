# shellcheck shell=bash disable=SC2154,SC2034 # the globals are set and read by scripts/test-images.sh
# Stages binaries, root, base, jitsi, idempotent: the image's root file system. The tree's
# binaries; a debootstrap root (cached as a tarball); packer build of the base and jitsi
# templates' CI source into it (the real ansible provisioner over Ansible's chroot connection, in
# first-boot mode: no secret, no node name); the jitsi build's base.yml is base's second run, then
# the jitsi build again: changed=0; prosody 13 installed and pinned.

build_binaries() {
	mkdir -p "$work/bin"
	# Built as `make build` builds what ships: static, and the node agent with its gcflags
	# (scripts/agent-gcflags.sh), so the image runs the sidecar a real node runs.
	local gcflags
	mapfile -t gcflags < <("$repo/scripts/agent-gcflags.sh")
	(cd "$repo" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$work/bin/" ./cmd/lab/ensemble-jvbemu \
		./cmd/ensemble-firstboot ./cmd/ensemble-selector ./cmd/lab/ensemble-xmppcheck ./cmd/lab/ensemble-imagecheck)
	(cd "$repo" && CGO_ENABLED=0 go build -trimpath "${gcflags[@]}" -ldflags='-s -w' -o "$work/bin/" ./cmd/ensemble-sidecar)
	# ENSEMBLE_IMAGES_SIDECAR=<binary> tries the images with another build of the sidecar.
	if [[ -n ${ENSEMBLE_IMAGES_SIDECAR:-} ]]; then
		cp "$ENSEMBLE_IMAGES_SIDECAR" "$work/bin/ensemble-sidecar"
	fi
}

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

total() { awk '{n += $1} END {print n + 0}'; } # sums the changed= counts it reads, one per line

# not_idempotent NAME LOG: names the tasks that changed on a second run, then fails.
not_idempotent() {
	echo "tasks that changed again:" >&2
	grep -B3 -E 'changed: \[' "$2" | grep -E 'TASK \[' >&2 || true
	die "$1 is not idempotent"
}

# What every image build gets: no secret and no node name (those come with each node's user-data,
# in the fleet stage). The SSH key lets the rolling playbook reach the nodes. The stand-in stage
# adds the apt repository's lines.
write_image_vars() {
	ssh-keygen -q -t ed25519 -N '' -C ensemble-ci -f "$work/ssh-key"
	cat >"$work/vars.yml" <<EOF2
base_firewall_ssh_sources: ["0.0.0.0/0"]
base_ssh_authorized_keys: ["$(cat "$work/ssh-key.pub")"]
EOF2
}

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
	echo "   ${recaps//$'\n'/$'\n   '}" >&2
	sed -E 's/.* changed=([0-9]+) .*/\1/' <<<"$recaps"
}

converge_base() {
	write_image_vars
	apt_cache_in "$base_root"
	packer_build base "$base_root" "$work/base.log" >/dev/null
	apt_cache_out "$base_root"
}

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
	# shellcheck disable=SC2016 # dpkg-query's format, not the shell's
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

# The whole jitsi build again: jitsi.yml's second run, and base.yml's third, after jitsi.yml (so
# neither undoes the other).
idempotence() {
	local changed
	changed=$(packer_build jitsi "$jitsi_root" "$work/jitsi-again.log" | total)
	[[ $changed == 0 ]] || not_idempotent jitsi "$work/jitsi-again.log"
}
