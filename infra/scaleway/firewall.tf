# Security groups, generated from firewall.json: the ports the Ansible nftables templates open,
# per role (TestFirewallMatchesNftables keeps the two in agreement). A security group filters
# only public traffic, so rules whose source is the private network stay with nftables.

locals {
  firewall_rules = jsondecode(file("${path.module}/firewall.json")).rules

  # The Ansible roles each kind of host runs.
  host_roles = {
    control  = ["base", "monitoring"]
    jitsi    = ["base", "jitsi"]
    selector = ["base", "selector"]
  }

  # Ports a host kind serves only to the load balancer, over the private network: never public,
  # whatever nftables opens, so no user can bypass the load balancer and its PROXY header.
  lb_only = {
    selector = ["TCP/80", "TCP/443"]
  }

  public_sources = {
    any                = ["0.0.0.0/0"]
    ssh                = var.ssh_allowed_cidrs
    prometheus_clients = var.prometheus_allowed_cidrs
  }

  security_group_rules = {
    for host, roles in local.host_roles : host => distinct(flatten([
      for r in local.firewall_rules : [
        for cidr in lookup(local.public_sources, r.source, []) : {
          protocol = upper(r.protocol)
          ports    = r.ports
          ip_range = cidr
        }
      ] if contains(roles, r.role) && !contains(lookup(local.lb_only, host, []), "${upper(r.protocol)}/${r.ports}")
    ]))
  }
}

resource "scaleway_instance_security_group" "host" {
  for_each = local.host_roles

  name                    = "ensemble-${each.key}"
  description             = "Ensemble ${each.key} hosts: Ansible roles ${join(", ", each.value)} (generated from firewall.json)"
  zone                    = var.zone
  stateful                = true
  inbound_default_policy  = "drop"
  outbound_default_policy = "accept"
  tags                    = local.tags

  dynamic "inbound_rule" {
    for_each = local.security_group_rules[each.key]
    content {
      action     = "accept"
      protocol   = inbound_rule.value.protocol
      port       = inbound_rule.value.ports != "" && !strcontains(inbound_rule.value.ports, "-") ? tonumber(inbound_rule.value.ports) : null
      port_range = strcontains(inbound_rule.value.ports, "-") ? inbound_rule.value.ports : null
      ip_range   = inbound_rule.value.ip_range
    }
  }
}
