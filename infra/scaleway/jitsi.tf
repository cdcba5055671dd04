# Jitsi nodes: all boot the same jitsi image; everything that makes one node differ from another,
# and every secret, is in its own user-data (docs/design/userdata.md), read at first boot.

locals {
  node_tls = (
    var.certificate_mode == "provided" ? tomap({
      mode        = "provided"
      certificate = var.tls_certificate
      key         = var.tls_private_key
    }) :
    var.acme_email == null ? tomap({ mode = "acme" }) :
    tomap({ mode = "acme", acme_email = var.acme_email })
  )

  # One cloud-config document per node. Secrets come only from secrets.tf and the other
  # sensitive inputs, so every document, and the instance's user_data, is sensitive.
  node_user_data = {
    for name in local.node_names : name => "#cloud-config\n${yamlencode({
      ssh_authorized_keys = var.ssh_public_keys
      ensemble = {
        version            = 1
        public_name        = "${name}.${var.domain}"
        region             = var.region
        private_cidr       = var.private_network_cidr
        monitoring_sources = local.monitoring_sources
        tls                = local.node_tls
        consul = {
          datacenter     = var.control.consul_datacenter
          retry_join     = local.consul_server_ips
          encrypt        = var.consul_gossip_key
          ca_certificate = var.consul_ca_certificate
          agent_token    = local.secret_uuid[name].agent
          sidecar_token  = local.secret_uuid[name].sidecar
        }
        turn = {
          secret = local.secret_hex[name].turn
        }
      }
    })}"
  }
}

# Nodes spread over placement groups of at most 20 (Scaleway's limit per group), by number:
# meet-0001..0020 in the first, and so on, so scaling never moves a running node.
resource "scaleway_instance_placement_group" "jitsi" {
  count = ceil(var.node_count / 20)

  name        = "ensemble-jitsi-${count.index + 1}"
  zone        = var.zone
  policy_type = "max_availability"
  # Best effort: a zone short of hypervisors still boots nodes (a node's failure only moves
  # its own rooms), unlike the control hosts and selectors.
  policy_mode = "optional"
  tags        = local.tags
}

resource "scaleway_instance_ip" "jitsi" {
  for_each = toset(local.node_names)

  zone = var.zone
  type = "routed_ipv4"
  tags = local.tags
}

resource "scaleway_instance_server" "jitsi" {
  for_each = toset(local.node_names)

  name               = each.key
  zone               = var.zone
  type               = var.node_commercial_type
  image              = var.images.jitsi
  ip_id              = scaleway_instance_ip.jitsi[each.key].id
  security_group_id  = scaleway_instance_security_group.host["jitsi"].id
  placement_group_id = scaleway_instance_placement_group.jitsi[floor(index(local.node_names, each.key) / 20)].id
  user_data          = { "cloud-init" = local.node_user_data[each.key] }
  tags               = concat(local.tags, ["jitsi"])

  # Attached by the provider after the server is running: first boot waits (bounded) for an
  # address in private_cidr on it (docs/infra.md, "What a node must do").
  private_network {
    pn_id = scaleway_vpc_private_network.fleet.id
  }

  # A node takes its private address by DHCP: every fixed address is reserved first. Its DNS
  # record exists before it boots, so an ACME order at first boot can succeed at once.
  depends_on = [
    scaleway_ipam_ip.control,
    scaleway_ipam_ip.selector,
    scaleway_ipam_ip.lb,
    scaleway_domain_record.node,
  ]
}
