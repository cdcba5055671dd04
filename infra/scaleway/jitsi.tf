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

  # One cloud-config document per node. Secrets come only from var.node_secrets and the other
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
          agent_token    = try(var.node_secrets[name].agent_token, "")
          sidecar_token  = try(var.node_secrets[name].sidecar_token, "")
        }
        turn = {
          secret = try(var.node_secrets[name].turn_secret, "")
        }
      }
    })}"
  }
}

resource "scaleway_instance_ip" "jitsi" {
  for_each = toset(local.node_names)

  zone = var.zone
  type = "routed_ipv4"
  tags = local.tags
}

resource "scaleway_instance_server" "jitsi" {
  for_each = toset(local.node_names)

  name              = each.key
  zone              = var.zone
  type              = var.node_commercial_type
  image             = var.images.jitsi
  ip_id             = scaleway_instance_ip.jitsi[each.key].id
  security_group_id = scaleway_instance_security_group.host["jitsi"].id
  user_data         = { "cloud-init" = local.node_user_data[each.key] }
  tags              = concat(local.tags, ["jitsi"])

  private_network {
    pn_id = scaleway_vpc_private_network.fleet.id
  }

  lifecycle {
    precondition {
      condition     = contains(local.secret_names, each.key)
      error_message = "node_secrets has no entry for ${each.key}: run infra/scaleway/mint-node-secrets.py for the new node names first (docs/infra.md, \"Scale up\")."
    }
  }
}
