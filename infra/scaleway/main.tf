locals {
  tags = distinct(concat(["ensemble"], var.tags))

  # Jitsi nodes: <prefix>-0001 ... Keys of every per-node resource, so scaling down removes the
  # highest numbers and never renumbers a running node.
  node_names = [for i in range(var.node_count) : format("%s-%04d", var.node_name_prefix, i + 1)]

  # Fixed private addresses (reserved in IPAM) for what others must find before it boots: the
  # Consul servers (every agent's retry_join), Prometheus on the first of them, and the
  # selectors (load balancer backends, sidecar scrapes). Nodes take theirs from DHCP.
  consul_server_ips = [for i in range(3) : cidrhost(var.private_network_cidr, 10 + i)]
  selector_ips      = [for i in range(var.selector_count) : cidrhost(var.private_network_cidr, 20 + i)]
  prometheus_ip     = local.consul_server_ips[0]
  # Who may scrape a sidecar (user-data monitoring_sources): Prometheus, and the selectors.
  monitoring_sources = concat(["${local.prometheus_ip}/32"], [for ip in local.selector_ips : "${ip}/32"])

  selector_fqdn   = "${var.names.selector}.${var.domain}"
  prometheus_fqdn = "${var.names.prometheus}.${var.domain}"

  # Node names that have secrets. The names are not secret, the tokens are.
  secret_names = nonsensitive(toset(keys(var.node_secrets)))

  # Hosts without per-node user-data (control, selectors) only get the SSH keys; Ansible
  # configures them (docs/infra.md).
  plain_cloud_init = "#cloud-config\n${yamlencode({ ssh_authorized_keys = var.ssh_public_keys })}"
}

resource "scaleway_vpc_private_network" "fleet" {
  name   = "ensemble"
  region = var.region
  tags   = local.tags

  ipv4_subnet {
    subnet = var.private_network_cidr
  }

  lifecycle {
    precondition {
      # .1-.9 are left to Scaleway, .10-.12 Consul, .20-.27 selectors, the rest DHCP for nodes.
      condition     = pow(2, 32 - tonumber(split("/", var.private_network_cidr)[1])) >= 64 + var.node_count
      error_message = "private_network_cidr is too small for ${var.node_count} nodes: it needs room for 64 reserved addresses plus one per node."
    }
    precondition {
      condition     = var.certificate_mode == "acme" || (var.tls_certificate != null && nonsensitive(var.tls_private_key != null))
      error_message = "certificate_mode = provided needs tls_certificate and tls_private_key (a wildcard certificate for *.${var.domain} and its key)."
    }
    precondition {
      condition     = startswith(var.zone, "${var.region}-")
      error_message = "zone ${var.zone} is not in region ${var.region}."
    }
  }
}
