# Every Consul token and coturn secret of the fleet, derived from one operator-provided seed:
# a value is sha256(seed, host, purpose, generation), so it exists before any host or Consul
# does (user-data can carry a node's tokens on the first apply) and stays the same on every
# plan. The hashicorp/random provider would do the same job but cannot be installed offline
# (docs/infra.md, "Secrets"); deriving also survives a lost state.
#
# Tokens are created in Consul, with exactly these accessor and secret IDs, by
# consul-acl-sync.py reading the consul_acl output; it also deletes the managed tokens of hosts
# that are gone, so removing a node removes its tokens.

locals {
  generation = { for h in concat(local.node_names, local.control_names, local.selector_names, ["fleet"]) : h => lookup(var.secret_generations, h, 1) }

  # host => purpose => 64 hex characters.
  secret_purposes = merge(
    { for n in local.node_names : n => ["agent", "sidecar", "turn"] },
    { for c in local.control_names : c => ["agent"] },
    { for s in local.selector_names : s => ["agent", "selector", "registration"] },
    { fleet = ["management"] },
  )
  secret_hex = {
    for h, purposes in local.secret_purposes : h => merge(flatten([
      for p in purposes : [
        { (p) = sha256("ensemble\n${var.secrets_seed}\n${h}\n${p}\n${local.generation[h]}") },
        { "${p}-accessor" = sha256("ensemble-accessor\n${var.secrets_seed}\n${h}\n${p}\n${local.generation[h]}") },
      ]
    ])...)
  }
  # A Consul secret or accessor ID is a UUID: the first 122 bits of the digest, version 4 layout.
  secret_uuid = {
    for h, m in local.secret_hex : h => {
      for k, x in m : k => format("%s-%s-4%s-8%s-%s", substr(x, 0, 8), substr(x, 8, 4), substr(x, 13, 3), substr(x, 17, 3), substr(x, 20, 12))
    }
  }

  datacenter = var.control.consul_datacenter

  # The tokens, as consul-acl-sync.py creates them. The description marks the token as managed
  # here: the sync deletes managed tokens that are no longer listed, and leaves others alone.
  consul_tokens = concat(
    [for n in local.node_names : {
      host = n, purpose = "agent", node_identities = [{ node_name = n, datacenter = local.datacenter }], policies = []
    }],
    # The sidecar registers the jitsi service (the policy) and the node-level check the selector
    # trusts for its node (the node identity: node:write on that node only; docs/security.md N1d).
    [for n in local.node_names : {
      host = n, purpose = "sidecar", node_identities = [{ node_name = n, datacenter = local.datacenter }], policies = ["ensemble-jitsi-sidecar"]
    }],
    [for c in local.control_names : {
      host = c, purpose = "agent", node_identities = [{ node_name = c, datacenter = local.datacenter }], policies = []
    }],
    [for s in local.selector_names : {
      host = s, purpose = "agent", node_identities = [{ node_name = s, datacenter = local.datacenter }], policies = []
    }],
    [for s in local.selector_names : {
      host = s, purpose = "selector", node_identities = [], policies = ["ensemble-selector"]
    }],
    # The selector host's agent registers ensemble-selector with this one; the selector process
    # itself may register nothing (deploy/consul/selector.hcl).
    [for s in local.selector_names : {
      host = s, purpose = "registration", node_identities = [], policies = ["ensemble-selector-registration"]
    }],
  )
  consul_acl = {
    # Policies the tokens use, created or updated by the sync from deploy/consul.
    policies = {
      ensemble-jitsi-sidecar         = file("${path.module}/../../deploy/consul/jitsi-sidecar.hcl")
      ensemble-selector              = file("${path.module}/../../deploy/consul/selector.hcl")
      ensemble-selector-registration = file("${path.module}/../../deploy/consul/selector-registration.hcl")
    }
    tokens = [for t in local.consul_tokens : merge(t, {
      description = "ensemble-managed ${t.host} ${t.purpose}"
      accessor_id = local.secret_uuid[t.host]["${t.purpose}-accessor"]
      secret_id   = local.secret_uuid[t.host][t.purpose]
    })]
  }
}
