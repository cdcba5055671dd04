# `tofu test -var-file=testdata/valid.tfvars` for the fleet module, offline: mock_provider
# answers every scaleway call with generated values; the schema comes from the stand-in provider
# (docs/infra.md, "What CI checks"). This file: user-data, security groups, DNS, outputs.
# network.tftest.hcl, secrets.tftest.hcl and inputs.tftest.hcl hold the invariants that
# testdata/broken/ shows failing on a broken module.

mock_provider "scaleway" {
  mock_resource "scaleway_instance_ip" {
    defaults = { address = "51.15.0.10" }
  }
  mock_resource "scaleway_lb_ip" {
    defaults = { ip_address = "51.15.0.20" }
  }
}

run "fleet" {
  command = apply

  assert {
    condition     = length(scaleway_instance_server.jitsi) == 3 && length(distinct([for s in scaleway_instance_server.jitsi : s.name])) == 3
    error_message = "want 3 jitsi instances with 3 distinct names"
  }
  assert {
    condition     = sort([for s in scaleway_instance_server.jitsi : s.name]) == tolist(["meet-0001", "meet-0002", "meet-0003"])
    error_message = "jitsi instances are not named <prefix>-0001..0003"
  }
  assert {
    condition     = alltrue([for s in scaleway_instance_server.jitsi : s.image == var.images.jitsi && s.type == var.node_commercial_type])
    error_message = "every jitsi instance must boot the jitsi image with node_commercial_type"
  }

  # Each node has its own user-data, in the contract's shape, with its own name and tokens.
  assert {
    condition     = length(distinct([for s in scaleway_instance_server.jitsi : nonsensitive(s.user_data["cloud-init"])])) == 3
    error_message = "the 3 nodes must have 3 distinct user-data documents"
  }
  assert {
    condition     = alltrue([for name, s in scaleway_instance_server.jitsi : startswith(nonsensitive(s.user_data["cloud-init"]), "#cloud-config\n")])
    error_message = "user-data must be a cloud-config document"
  }
  assert {
    condition = alltrue([
      for name, s in scaleway_instance_server.jitsi : (
        nonsensitive(yamldecode(s.user_data["cloud-init"]).ensemble.public_name) == "${name}.example.org" &&
        nonsensitive(yamldecode(s.user_data["cloud-init"]).ensemble.version) == 1 &&
        nonsensitive(yamldecode(s.user_data["cloud-init"]).ensemble.private_cidr) == "172.16.0.0/22" &&
        nonsensitive(yamldecode(s.user_data["cloud-init"]).ensemble.consul.retry_join) == ["172.16.0.10", "172.16.0.11", "172.16.0.12"] &&
        nonsensitive(yamldecode(s.user_data["cloud-init"]).ensemble.monitoring_sources) == ["172.16.0.10/32", "172.16.0.20/32", "172.16.0.21/32"] &&
        nonsensitive(yamldecode(s.user_data["cloud-init"]).ensemble.tls.mode) == "provided"
      )
    ])
    error_message = "a node's user-data lacks its public name, the private CIDR, the Consul servers or the monitoring sources"
  }
  # Exactly the keys of docs/design/userdata.md: the first-boot reader refuses unknown ones.
  assert {
    condition = alltrue([
      for s in scaleway_instance_server.jitsi : (
        sort(keys(nonsensitive(yamldecode(s.user_data["cloud-init"])))) == tolist(["ensemble", "ssh_authorized_keys"]) &&
        sort(keys(nonsensitive(yamldecode(s.user_data["cloud-init"]).ensemble))) == tolist(["consul", "monitoring_sources", "private_cidr", "public_name", "region", "tls", "turn", "version"]) &&
        sort(keys(nonsensitive(yamldecode(s.user_data["cloud-init"]).ensemble.consul))) == tolist(["agent_token", "ca_certificate", "datacenter", "encrypt", "retry_join", "sidecar_token"]) &&
        sort(keys(nonsensitive(yamldecode(s.user_data["cloud-init"]).ensemble.tls))) == tolist(["certificate", "key", "mode"]) &&
        sort(keys(nonsensitive(yamldecode(s.user_data["cloud-init"]).ensemble.turn))) == tolist(["secret"])
      )
    ])
    error_message = "user-data keys differ from the contract in docs/design/userdata.md"
  }
  assert {
    condition     = length(distinct([for s in scaleway_instance_server.jitsi : nonsensitive(yamldecode(s.user_data["cloud-init"]).ensemble.consul.agent_token)])) == 3
    error_message = "the 3 nodes must reference 3 distinct agent tokens"
  }
  assert {
    condition = alltrue(flatten([
      for name, s in scaleway_instance_server.jitsi : [
        for t in nonsensitive(output.consul_acl.tokens) :
        !strcontains(nonsensitive(s.user_data["cloud-init"]), t.secret_id) if t.host != name
      ]
    ]))
    error_message = "a node's user-data contains another host's token"
  }

  # Secrets reach instances only as sensitive values, and only the nodes'.
  assert {
    condition     = alltrue([for s in scaleway_instance_server.jitsi : issensitive(s.user_data["cloud-init"])])
    error_message = "jitsi user_data must be sensitive (it carries tokens), so plans never print it"
  }
  assert {
    condition = alltrue(flatten([
      for s in concat(scaleway_instance_server.control, scaleway_instance_server.selector) : [
        for secret in concat([var.consul_gossip_key, var.tls_private_key, var.secrets_seed], [for t in nonsensitive(output.consul_acl.tokens) : t.secret_id]) :
        !strcontains(jsonencode(s.user_data), nonsensitive(secret))
      ]
    ]))
    error_message = "a control host or selector got a secret in its user-data"
  }

  # Security groups: exactly the public rules of firewall.json for each host's roles.
  assert {
    condition = alltrue(flatten([
      for host, roles in { control = ["base", "monitoring"], jitsi = ["base", "jitsi"], selector = ["base", "selector"] } : [
        for r in scaleway_instance_security_group.host[host].inbound_rule :
        contains([
          for f in jsondecode(file("firewall.json")).rules : "${upper(f.protocol)}/${f.ports}" if contains(roles, f.role) && contains(["any", "ssh", "prometheus_clients"], f.source) && !(host == "selector" && contains(["TCP/80", "TCP/443"], "${upper(f.protocol)}/${f.ports}"))
        ], "${r.protocol}/${r.port_range != null ? r.port_range : (r.port != null ? tostring(r.port) : "")}")
      ]
    ]))
    error_message = "a security-group rule opens a port the nftables port list (firewall.json) does not"
  }
  assert {
    condition = alltrue(flatten([
      for host, roles in { control = ["base", "monitoring"], jitsi = ["base", "jitsi"], selector = ["base", "selector"] } : [
        for f in jsondecode(file("firewall.json")).rules : [
          for cidr in lookup({ any = ["0.0.0.0/0"], ssh = var.ssh_allowed_cidrs, prometheus_clients = var.prometheus_allowed_cidrs }, f.source, []) :
          anytrue([
            for r in scaleway_instance_security_group.host[host].inbound_rule :
            r.protocol == upper(f.protocol) && r.ip_range == cidr && "${r.port_range != null ? r.port_range : (r.port != null ? tostring(r.port) : "")}" == f.ports && r.action == "accept"
          ])
        ] if contains(roles, f.role) && !(host == "selector" && contains(["TCP/80", "TCP/443"], "${upper(f.protocol)}/${f.ports}"))
      ]
    ]))
    error_message = "a public port of the nftables port list (firewall.json) has no security-group rule"
  }
  assert {
    condition     = alltrue([for sg in scaleway_instance_security_group.host : sg.inbound_default_policy == "drop" && sg.stateful])
    error_message = "security groups must drop inbound traffic by default"
  }
  assert {
    condition     = length([for r in scaleway_instance_security_group.host["jitsi"].inbound_rule : r if r.protocol == "TCP" && r.port == 22 && r.ip_range == "0.0.0.0/0"]) == 0
    error_message = "SSH must be open only to ssh_allowed_cidrs"
  }
  assert {
    condition     = length([for r in scaleway_instance_security_group.host["selector"].inbound_rule : r if r.protocol == "TCP" && contains([80, 443], coalesce(r.port, 0))]) == 0
    error_message = "selector hosts must not open 80/443 publicly: only the load balancer reaches them, over the private network"
  }

  # DNS: one record per node with its address, plus the selector and Prometheus.
  assert {
    condition     = length(scaleway_domain_record.node) == 3 && alltrue([for name, r in scaleway_domain_record.node : r.name == name && r.type == "A" && r.dns_zone == "example.org" && r.data == scaleway_instance_ip.jitsi[name].address])
    error_message = "want one A record per node, named after it, pointing at its IP"
  }
  assert {
    condition     = scaleway_domain_record.selector.name == "meet" && scaleway_domain_record.selector.data == "51.15.0.20" && scaleway_domain_record.prometheus.name == "prometheus"
    error_message = "the selector name must point at the load balancer, and Prometheus must have a name"
  }

  assert {
    condition     = output.selector_url == "https://meet.example.org/" && output.node_names == ["meet-0001", "meet-0002", "meet-0003"] && output.prometheus_url == "http://prometheus.example.org:9090/"
    error_message = "outputs are wrong"
  }
}

run "acme" {
  command = plan
  variables {
    certificate_mode = "acme"
    acme_email       = "ops@example.org"
  }
  assert {
    condition     = alltrue([for s in scaleway_instance_server.jitsi : nonsensitive(yamldecode(s.user_data["cloud-init"]).ensemble.tls) == { mode = "acme", acme_email = "ops@example.org" }])
    error_message = "in acme mode a node's tls is {mode: acme, acme_email}, without certificate or key"
  }
  assert {
    condition     = length(scaleway_lb_certificate.selectors.custom_certificate) == 1 && length(scaleway_lb_certificate.selectors.letsencrypt) == 0
    error_message = "in acme mode the load balancer still serves tls_certificate, the certificate the selectors present to it"
  }
}

run "scale_to_five" {
  command = plan
  variables {
    node_count = 5
  }
  assert {
    condition     = length(scaleway_instance_server.jitsi) == 5 && length(scaleway_domain_record.node) == 5 && contains(keys(scaleway_instance_server.jitsi), "meet-0005")
    error_message = "node_count = 5 must plan 5 nodes and 5 DNS records"
  }
}
