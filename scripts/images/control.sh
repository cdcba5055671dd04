# shellcheck shell=bash disable=SC2154,SC2034 # the globals are set and read by scripts/test-images.sh
# The control host. Stage control (in the background, beside the image's stages): base.yml
# (inventory mode), selector.yml and monitoring.yml converge twice into a root of their own, the
# second run with changed=0. Stage boot-control: that root boots; the selector answers through
# nginx with TLS and Prometheus scrapes it.

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

selector_healthy() {
	node_net control curl -sf --max-time 2 --cacert "$work/selector.crt" \
		--resolve selector.ci.invalid:443:127.0.0.1 https://selector.ci.invalid/-/healthy >/dev/null
}

prometheus_ready() {
	node_net control curl -sf --max-time 2 http://127.0.0.1:9090/-/ready >/dev/null
}

# The monitoring role's target list reaches the selector: its first scrape lands within one
# scrape interval (15 s); the check allows 30.
prometheus_scrapes_selector() {
	node_imagecheck control --timeout=30s prometheus --url=http://127.0.0.1:9090 --query='up{job="ensemble-selector"}' >/dev/null
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
	prometheus_scrapes_selector ||
		{ node_net control curl -s http://127.0.0.1:9090/api/v1/targets; die "prometheus does not scrape the selector"; }
	echo "   prometheus: ready, selector target up"
	stop_container control
}
