# `tofu test` for the fleet module, offline: mock_provider answers every scaleway call with
# generated values; the schema comes from the stand-in provider (docs/infra.md, "What CI checks").

mock_provider "scaleway" {
  mock_resource "scaleway_instance_ip" {
    defaults = { address = "51.15.0.10" }
  }
  mock_resource "scaleway_lb_ip" {
    defaults = { ip_address = "51.15.0.20" }
  }
}

variables {
  project_id           = "11111111-2222-3333-4444-555555555555"
  region               = "fr-par"
  zone                 = "fr-par-2"
  domain               = "example.org"
  node_count           = 3
  private_network_cidr = "172.16.0.0/22"
  images = {
    base  = "fr-par-2/aaaaaaaa-0000-4000-8000-000000000001"
    jitsi = "fr-par-2/aaaaaaaa-0000-4000-8000-000000000002"
  }
  ssh_public_keys          = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTestsOnly0000000000000000000000 ops@example.org"]
  ssh_allowed_cidrs        = ["203.0.113.0/24", "198.51.100.7/32"]
  prometheus_allowed_cidrs = ["192.0.2.5/32"]
  certificate_mode         = "provided"
  tls_certificate          = "-----BEGIN CERTIFICATE-----\nTESTWILDCARDCERT\n-----END CERTIFICATE-----\n"
  tls_private_key          = "-----BEGIN PRIVATE KEY-----\nTESTWILDCARDKEY\n-----END PRIVATE KEY-----\n"
  consul_gossip_key        = "VEVTVC1nb3NzaXAta2V5LTMyLWJ5dGVzLWZvci1DSSE="
  consul_ca_certificate    = "-----BEGIN CERTIFICATE-----\nTESTCONSULCA\n-----END CERTIFICATE-----\n"
  node_secrets = {
    "meet-0001" = { agent_token = "00000001-aaaa-4000-8000-000000000001", sidecar_token = "00000001-bbbb-4000-8000-000000000001", turn_secret = "turn-secret-0001-xxxxxxxxxxxxxxxxxxxxxxxx" }
    "meet-0002" = { agent_token = "00000002-aaaa-4000-8000-000000000002", sidecar_token = "00000002-bbbb-4000-8000-000000000002", turn_secret = "turn-secret-0002-xxxxxxxxxxxxxxxxxxxxxxxx" }
    "meet-0003" = { agent_token = "00000003-aaaa-4000-8000-000000000003", sidecar_token = "00000003-bbbb-4000-8000-000000000003", turn_secret = "turn-secret-0003-xxxxxxxxxxxxxxxxxxxxxxxx" }
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
    condition     = alltrue([for s in scaleway_instance_server.jitsi : s.image == var.images.jitsi && s.type == "PRO2-S"])
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
  assert {
    condition = alltrue([
      for name, s in scaleway_instance_server.jitsi : (
        nonsensitive(yamldecode(s.user_data["cloud-init"]).ensemble.consul.agent_token == var.node_secrets[name].agent_token) &&
        nonsensitive(yamldecode(s.user_data["cloud-init"]).ensemble.consul.sidecar_token == var.node_secrets[name].sidecar_token) &&
        nonsensitive(yamldecode(s.user_data["cloud-init"]).ensemble.turn.secret == var.node_secrets[name].turn_secret)
      )
    ])
    error_message = "a node's user-data does not carry that node's own tokens from node_secrets"
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
        for other, secrets in nonsensitive(var.node_secrets) :
        !strcontains(nonsensitive(s.user_data["cloud-init"]), secrets.agent_token) && !strcontains(nonsensitive(s.user_data["cloud-init"]), secrets.sidecar_token) if other != name
      ]
    ]))
    error_message = "a node's user-data contains another node's token"
  }

  # Secrets reach instances only as sensitive values, and only the nodes'.
  assert {
    condition     = alltrue([for s in scaleway_instance_server.jitsi : issensitive(s.user_data["cloud-init"])])
    error_message = "jitsi user_data must be sensitive (it carries tokens), so plans never print it"
  }
  assert {
    condition = alltrue(flatten([
      for s in concat(scaleway_instance_server.control, scaleway_instance_server.selector) : [
        for secret in concat([var.consul_gossip_key, var.tls_private_key], flatten([for n in nonsensitive(var.node_secrets) : [n.agent_token, n.sidecar_token, n.turn_secret]])) :
        !strcontains(jsonencode(s.user_data), nonsensitive(secret))
      ]
    ]))
    error_message = "a control host or selector got a secret in its user-data"
  }

  # Control: 3 Consul servers, max_availability, at the addresses the nodes join.
  assert {
    condition     = length(scaleway_instance_server.control) == 3 && scaleway_instance_placement_group.control.policy_type == "max_availability" && alltrue([for s in scaleway_instance_server.control : s.placement_group_id == scaleway_instance_placement_group.control.id])
    error_message = "the 3 Consul servers must share a max_availability placement group"
  }
  assert {
    condition     = [for ip in scaleway_ipam_ip.control : ip.address] == ["172.16.0.10", "172.16.0.11", "172.16.0.12"]
    error_message = "Consul servers must hold the addresses every node's retry_join lists"
  }

  # Selectors: max_availability, all behind the load balancer, checked on /-/ready, TLS in front.
  assert {
    condition     = length(scaleway_instance_server.selector) == 2 && scaleway_instance_placement_group.selectors.policy_type == "max_availability"
    error_message = "want 2 selectors and a max_availability placement group"
  }
  assert {
    condition     = alltrue([for s in scaleway_instance_server.selector : s.placement_group_id == scaleway_instance_placement_group.selectors.id])
    error_message = "every selector must be in the selectors' placement group"
  }
  assert {
    condition     = sort(scaleway_lb_backend.selectors.server_ips) == sort([for ip in scaleway_ipam_ip.selector : ip.address]) && length(scaleway_lb_backend.selectors.server_ips) == 2
    error_message = "every selector (and nothing else) must be a load balancer backend"
  }
  assert {
    condition     = scaleway_lb_backend.selectors.health_check_https[0].uri == "/-/ready" && scaleway_lb_backend.selectors.health_check_https[0].code == 200
    error_message = "the load balancer must health-check the selectors on /-/ready"
  }
  assert {
    condition     = scaleway_lb_frontend.https.inbound_port == 443 && scaleway_lb_frontend.https.certificate_ids == tolist([scaleway_lb_certificate.selectors.id]) && length(scaleway_lb_certificate.selectors.custom_certificate) == 1 && length(scaleway_lb_certificate.selectors.letsencrypt) == 0
    error_message = "the load balancer must terminate TLS on 443 with the provided certificate"
  }

  # Security groups: exactly the public rules of firewall.json for each host's roles.
  assert {
    condition = alltrue(flatten([
      for host, roles in { control = ["base", "monitoring"], jitsi = ["base", "jitsi"], selector = ["base", "selector"] } : [
        for r in scaleway_instance_security_group.host[host].inbound_rule :
        contains([
          for f in jsondecode(file("firewall.json")).rules : "${upper(f.protocol)}/${f.ports}" if contains(roles, f.role) && contains(["any", "ssh", "prometheus_clients"], f.source)
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
        ] if contains(roles, f.role)
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
    tls_certificate  = null
    tls_private_key  = null
    acme_email       = "ops@example.org"
  }
  assert {
    condition     = alltrue([for s in scaleway_instance_server.jitsi : nonsensitive(yamldecode(s.user_data["cloud-init"]).ensemble.tls) == { mode = "acme", acme_email = "ops@example.org" }])
    error_message = "in acme mode a node's tls is {mode: acme, acme_email}, without certificate or key"
  }
  assert {
    condition     = length(scaleway_lb_certificate.selectors.letsencrypt) == 1 && scaleway_lb_certificate.selectors.letsencrypt[0].common_name == "meet.example.org" && length(scaleway_lb_certificate.selectors.custom_certificate) == 0
    error_message = "in acme mode the load balancer asks Let's Encrypt for the selector name"
  }
}

run "scale_to_five" {
  command = plan
  variables {
    node_count = 5
    node_secrets = {
      "meet-0001" = { agent_token = "00000001-aaaa-4000-8000-000000000001", sidecar_token = "00000001-bbbb-4000-8000-000000000001", turn_secret = "turn-secret-0001-xxxxxxxxxxxxxxxxxxxxxxxx" }
      "meet-0002" = { agent_token = "00000002-aaaa-4000-8000-000000000002", sidecar_token = "00000002-bbbb-4000-8000-000000000002", turn_secret = "turn-secret-0002-xxxxxxxxxxxxxxxxxxxxxxxx" }
      "meet-0003" = { agent_token = "00000003-aaaa-4000-8000-000000000003", sidecar_token = "00000003-bbbb-4000-8000-000000000003", turn_secret = "turn-secret-0003-xxxxxxxxxxxxxxxxxxxxxxxx" }
      "meet-0004" = { agent_token = "00000004-aaaa-4000-8000-000000000004", sidecar_token = "00000004-bbbb-4000-8000-000000000004", turn_secret = "turn-secret-0004-xxxxxxxxxxxxxxxxxxxxxxxx" }
      "meet-0005" = { agent_token = "00000005-aaaa-4000-8000-000000000005", sidecar_token = "00000005-bbbb-4000-8000-000000000005", turn_secret = "turn-secret-0005-xxxxxxxxxxxxxxxxxxxxxxxx" }
    }
  }
  assert {
    condition     = length(scaleway_instance_server.jitsi) == 5 && length(scaleway_domain_record.node) == 5 && contains(keys(scaleway_instance_server.jitsi), "meet-0005")
    error_message = "node_count = 5 must plan 5 nodes and 5 DNS records"
  }
}

run "rejects_zero_nodes" {
  command = plan
  variables {
    node_count = 0
  }
  expect_failures = [var.node_count]
}

run "rejects_public_cidr" {
  command = plan
  variables {
    private_network_cidr = "51.15.0.0/22"
  }
  expect_failures = [var.private_network_cidr]
}

run "rejects_one_selector" {
  command = plan
  variables {
    selector_count = 1
  }
  expect_failures = [var.selector_count]
}

run "rejects_node_without_secrets" {
  command = plan
  variables {
    node_count = 4
  }
  expect_failures = [scaleway_instance_server.jitsi]
}

run "rejects_provided_without_certificate" {
  command = plan
  variables {
    tls_certificate = null
  }
  expect_failures = [scaleway_vpc_private_network.fleet]
}
