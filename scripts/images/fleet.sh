# shellcheck shell=bash disable=SC2154,SC2034 # the globals are set and read by scripts/test-images.sh
# Stages fleet and fleet-stop: in a network namespace of its own (a bridge, 172.31.251.0/24) a
# Consul server with ACLs, TLS and auto_encrypt, the ACL policies of deploy/consul and per-node
# tokens; three copies of the image boot as nspawn containers on the bridge, each with its own
# user-data: two good nodes (own names, certificates from a CA made here) and one with a field
# missing. boot_fleet asserts the first boot, Consul, metrics and certificates, then runs the
# checks of node-checks.sh and xmpp-turn.sh against the running fleet.

net=172.31.251
host_ip=$net.1
mgmt=$(cat /proc/sys/kernel/random/uuid)
consul_api() { # PATH: GET from the server with the management token
	in_net curl -sf --max-time 5 -H "X-Consul-Token: $mgmt" "http://127.0.0.1:8500$1"
}
acl() { in_net env CONSUL_HTTP_ADDR=127.0.0.1:8500 CONSUL_HTTP_TOKEN="$mgmt" "$consul_bin" acl "$@"; }

# imagecheck ARGS...: one check of ensemble-imagecheck (internal/lab/imagecheck: the HTTP, Consul
# and Prometheus assertions, retried until its --timeout) from the test's namespace, with the
# management token for Consul. node_imagecheck NAME ARGS...: the same from a node's network.
imagecheck() { in_net env CONSUL_HTTP_ADDR=127.0.0.1:8500 CONSUL_HTTP_TOKEN="$mgmt" "$work/bin/ensemble-imagecheck" "$@"; }
node_imagecheck() {
	local name=$1
	shift
	node_net "$name" "$work/bin/ensemble-imagecheck" "$@"
}

# both_passing: node-a and node-b, and only they, pass in Consul within 60 s. What passing means
# (Consul's ?passing: every check of the instance, its service's and its node's) is decided in one
# place, imagecheck.PassingURLs, so a sidecar that moves its check to the node changes nothing here.
both_passing() { imagecheck --timeout=60s passing --want=https://node-a.ci.invalid --want=https://node-b.ci.invalid >/dev/null; }

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
	# shellcheck disable=SC2004 # an associative array's key
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

# The node's metrics through its firewall, from the monitoring source (this namespace), within 20 s.
node_exports_up() { # NAME
	imagecheck --timeout=20s metrics --url="http://${node_ips[$1]}:9105/metrics" \
		--want=ensemble_jvb_up=1 --want=ensemble_nginx_up=1 >/dev/null
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

	both_passing ||
		{ in_node node-a journalctl -u consul -u ensemble-sidecar --no-pager -n 40; die "the two nodes are not passing in Consul with their own public_url"; }
	echo "   consul: both passing, public_url https://node-a.ci.invalid and https://node-b.ci.invalid"
	for name in node-a node-b; do
		node_exports_up "$name" || die "$name does not export ensemble_jvb_up 1 to the monitoring source"
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
