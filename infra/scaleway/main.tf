locals {
  tags = distinct(concat(["ensemble"], var.tags))

  # Jitsi nodes: <prefix>-0001 ... Keys of every per-node resource, so scaling down removes the
  # highest numbers and never renumbers a running node.
  node_names = [for i in range(var.node_count) : format("%s-%04d", var.node_name_prefix, i + 1)]

  # Fixed private addresses (reserved in IPAM) for what others must find before it boots: the
  # Consul servers (every agent's retry_join), Prometheus on the first of them, every selector
  # the module can create (load-balancer backends, sidecar scrapes) and the load balancer.
  # All are reserved before anything that takes an address by DHCP (the Jitsi nodes) exists,
  # so DHCP can never hand one of them out (docs/infra.md, "Network").
  max_selectors         = 8
  consul_server_ips     = [for i in range(3) : cidrhost(var.private_network_cidr, 10 + i)]
  reserved_selector_ips = [for i in range(local.max_selectors) : cidrhost(var.private_network_cidr, 20 + i)]
  selector_ips          = slice(local.reserved_selector_ips, 0, var.selector_count)
  lb_private_ip         = cidrhost(var.private_network_cidr, 30)
  prometheus_ip         = local.consul_server_ips[0]
  # Who may scrape a sidecar (user-data monitoring_sources): Prometheus, and the selectors.
  monitoring_sources = concat(["${local.prometheus_ip}/32"], [for ip in local.selector_ips : "${ip}/32"])

  selector_fqdn   = "${var.names.selector}.${var.domain}"
  prometheus_fqdn = "${var.names.prometheus}.${var.domain}"

  control_names  = [for i in range(3) : "consul-${i + 1}"]
  selector_names = [for i in range(var.selector_count) : "selector-${i + 1}"]

  # Hosts without per-node user-data (control, selectors) only get the SSH keys; Ansible
  # configures them (docs/infra.md).
  plain_cloud_init = "#cloud-config\n${yamlencode({ ssh_authorized_keys = var.ssh_public_keys })}"

  # Volume families: which root volume an instance type boots. The images' root volume
  # (image_volume_type) must be bootable by the builder's type and by every type of the fleet.
  # A type whose family is unknown is refused rather than guessed.
  volume_families = {
    l_ssd      = ["DEV1", "GP1", "START1", "VC1", "STARDUST1"]
    sbs_volume = ["PLAY2", "PRO2", "POP2", "ENT1", "COPARM1", "L4", "L40S", "H100"]
  }
  instance_types = {
    image_builder_commercial_type = var.image_builder_commercial_type
    node_commercial_type          = var.node_commercial_type
    "control.commercial_type"     = var.control.commercial_type
    selector_commercial_type      = var.selector_commercial_type
  }
  type_families = {
    for input, type in local.instance_types : input => one(concat(
      [for family, prefixes in local.volume_families : family if contains(prefixes, split("-", type)[0])], []
    ))
  }
  mixed_families = [for input, family in local.type_families : "${input} = ${local.instance_types[input]} (${coalesce(family, "unknown family")})" if family != var.image_volume_type]

  # Let's Encrypt issues at most 50 certificates per registered domain per week; acme mode
  # keeps 10 for renewals, replacements and the odd failed boot.
  acme_max_nodes = 40
}

resource "scaleway_vpc" "fleet" {
  name   = "ensemble"
  region = var.region
  tags   = local.tags
}

resource "scaleway_vpc_private_network" "fleet" {
  name   = "ensemble"
  region = var.region
  vpc_id = scaleway_vpc.fleet.id
  tags   = local.tags

  ipv4_subnet {
    subnet = var.private_network_cidr
  }

  lifecycle {
    precondition {
      # .1-.9 are left to Scaleway, .10-.12 Consul, .20-.27 selectors, .30 the load balancer,
      # the rest DHCP for nodes.
      condition     = pow(2, 32 - tonumber(split("/", var.private_network_cidr)[1])) >= 64 + var.node_count
      error_message = "private_network_cidr is too small for ${var.node_count} nodes: it needs room for 64 reserved addresses plus one per node."
    }
    precondition {
      condition     = var.tls_certificate != null && nonsensitive(var.tls_private_key != null)
      error_message = "certificate_mode = ${var.certificate_mode} needs tls_certificate and tls_private_key: the load balancer serves them and the selectors present them to it (it verifies them), so they must be publicly trusted and cover ${local.selector_fqdn} (provided mode: a wildcard for *.${var.domain})."
    }
    precondition {
      condition     = var.certificate_mode != "acme" || var.node_count <= local.acme_max_nodes
      error_message = "certificate_mode = acme allows at most ${local.acme_max_nodes} nodes (Let's Encrypt issues 50 certificates per registered domain per week, and replacements count too); for ${var.node_count} nodes use certificate_mode = provided with a wildcard certificate for *.${var.domain}."
    }
    precondition {
      condition     = startswith(var.zone, "${var.region}-")
      error_message = "zone ${var.zone} is not in region ${var.region}."
    }
    precondition {
      condition     = length(local.mixed_families) == 0
      error_message = "instance types must boot the images' ${var.image_volume_type} root volume (image_volume_type); these do not: ${join(", ", local.mixed_families)}. Local-SSD types: ${join(", ", local.volume_families.l_ssd)}; Block Storage types: ${join(", ", local.volume_families.sbs_volume)}."
    }
    precondition {
      condition = alltrue([
        for id in [var.images.base, var.images.jitsi] : !strcontains(id, "/") || startswith(id, "${var.zone}/")
      ])
      error_message = "images must live in zone ${var.zone} (an image ID is per zone; bake or copy them there): got base = ${var.images.base}, jitsi = ${var.images.jitsi}."
    }
  }
}

# Fixed private addresses, reserved before any DHCP consumer (the Jitsi nodes depend on them).
resource "scaleway_ipam_ip" "control" {
  count = 3

  address = local.consul_server_ips[count.index]
  region  = var.region
  tags    = local.tags

  source {
    private_network_id = scaleway_vpc_private_network.fleet.id
  }
}

resource "scaleway_ipam_ip" "selector" {
  # Every selector the module may create, not only today's: scaling selectors up never races DHCP.
  count = local.max_selectors

  address = local.reserved_selector_ips[count.index]
  region  = var.region
  tags    = local.tags

  source {
    private_network_id = scaleway_vpc_private_network.fleet.id
  }
}

resource "scaleway_ipam_ip" "lb" {
  address = local.lb_private_ip
  region  = var.region
  tags    = local.tags

  source {
    private_network_id = scaleway_vpc_private_network.fleet.id
  }
}
