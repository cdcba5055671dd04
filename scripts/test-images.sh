#!/usr/bin/env bash
# make test-images: proves that the packer templates and Ansible roles bake ONE generic Jitsi image
# that boots into distinct nodes from their user-data, without a cloud account and without
# reaching Jitsi's servers.
#
#   1. lint       ansible-lint, --syntax-check per playbook, packer fmt -check / init / validate
#                 (and validate must refuse a source image that is not a UUID); the apt key check
#                 refuses a bundle of two keys; shellcheck of this test's scripts
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
# Each stage lives in scripts/images/ (its file's comment says what it proves); this file only
# sets the run up and sequences them. The helpers every stage uses: scripts/images/processes.sh
# (stages, polling, the cleanup trap) and scripts/images/containers.sh (nspawn, namespaces). The
# assertions that read Consul, Prometheus, the selector, a sidecar or nginx over HTTP are
# ensemble-imagecheck's (internal/lab/imagecheck, with fixtures that make each fail in its tests).
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

# shellcheck source=scripts/images/processes.sh
. "$repo/scripts/images/processes.sh"
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
trap cleanup EXIT
trap 'exit 130' INT TERM

# The stages' functions and the paths they share (under $work).
# shellcheck source=scripts/images/containers.sh
. "$repo/scripts/images/containers.sh"
# shellcheck source=scripts/images/lint.sh
. "$repo/scripts/images/lint.sh"
# shellcheck source=scripts/images/converge.sh
. "$repo/scripts/images/converge.sh"
# shellcheck source=scripts/images/standin.sh
. "$repo/scripts/images/standin.sh"
# shellcheck source=scripts/images/control.sh
. "$repo/scripts/images/control.sh"
# shellcheck source=scripts/images/image.sh
. "$repo/scripts/images/image.sh"
# shellcheck source=scripts/images/fleet.sh
. "$repo/scripts/images/fleet.sh"
# shellcheck source=scripts/images/node-checks.sh
. "$repo/scripts/images/node-checks.sh"
# shellcheck source=scripts/images/xmpp-turn.sh
. "$repo/scripts/images/xmpp-turn.sh"
# shellcheck source=scripts/images/rolling.sh
. "$repo/scripts/images/rolling.sh"

eval "$(bash "$repo/scripts/install-packer.sh" --env)"
export PACKER PACKER_PLUGIN_PATH CHECKPOINT_DISABLE
# Dummy credentials: validate only checks their shape, and CI never selects the Scaleway sources.
export SCW_ACCESS_KEY=SCWXXXXXXXXXXXXXXXXX
export SCW_SECRET_KEY=11111111-1111-1111-1111-111111111111
export SCW_DEFAULT_PROJECT_ID=11111111-1111-1111-1111-111111111111

step lint lint
step binaries build_binaries
step root make_root
# The control host shares nothing with the image's roots but the apt cache, so it converges beside
# them: Ansible runs one task at a time, about one core of CI's two.
background control converge_control
step base converge_base
step standin standin_repo
step jitsi converge_jitsi
step idempotent idempotence
await control
step image make_image
step fleet boot_fleet
step rolling rolling
step fleet-stop stop_fleet
step boot-control boot_control

echo "== timings"
printf '   %s\n' "${timings[@]}"
echo "test-images: ok"
