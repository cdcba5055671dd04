# Secrets: what each host carries is what Consul gets, nothing leaks to another host, removing a
# node removes its tokens, rotation touches one host (tofu test -var-file=testdata/valid.tfvars).
# The non-sensitive outputs and the encrypted state and plan are checked over a real plan by
# TestSecretsStayEncrypted and TestOutputsHideSecrets (tofu_test.go).

mock_provider "scaleway" {}

run "tokens" {
  command = plan

  # The tokens in a node's user-data are the ones consul-acl-sync.py creates for that node.
  assert {
    condition = alltrue([
      for name, s in scaleway_instance_server.jitsi : (
        nonsensitive(yamldecode(s.user_data["cloud-init"]).ensemble.consul.agent_token) == one([for t in nonsensitive(output.consul_acl.tokens) : t.secret_id if t.host == name && t.purpose == "agent" && t.node_identities == [{ node_name = name, datacenter = var.control.consul_datacenter }]]) &&
        nonsensitive(yamldecode(s.user_data["cloud-init"]).ensemble.consul.sidecar_token) == one([for t in nonsensitive(output.consul_acl.tokens) : t.secret_id if t.host == name && t.purpose == "sidecar" && t.policies == ["ensemble-jitsi-sidecar"] && t.node_identities == [{ node_name = name, datacenter = var.control.consul_datacenter }]])
      )
    ])
    error_message = "a node's user-data must carry the agent token (its node identity) and sidecar token (the sidecar policy and its node identity) that consul_acl creates for it"
  }
  assert {
    condition = alltrue([
      for h, t in nonsensitive(output.host_tokens) :
      t.agent_token == one([for x in nonsensitive(output.consul_acl.tokens) : x.secret_id if x.host == h && x.purpose == "agent" && try(x.node_identities[0].node_name, "") == h]) &&
      try(t.selector_token, "none") == (startswith(h, "selector-") ? one([for x in nonsensitive(output.consul_acl.tokens) : x.secret_id if x.host == h && x.purpose == "selector" && x.policies == ["ensemble-selector"]]) : "none")
    ]) && length(output.host_tokens) == 3 + var.selector_count
    error_message = "every control host and selector must get the tokens consul_acl creates for it"
  }
  # Every token and secret distinct, every accessor distinct, all Consul-shaped.
  assert {
    condition = length(distinct(concat(
      [for t in nonsensitive(output.consul_acl.tokens) : t.secret_id],
      [for t in nonsensitive(output.consul_acl.tokens) : t.accessor_id],
      [nonsensitive(output.consul_management_token)],
      [for s in scaleway_instance_server.jitsi : nonsensitive(yamldecode(s.user_data["cloud-init"]).ensemble.turn.secret)],
      ))) == 2 * length(output.consul_acl.tokens) + 1 + var.node_count && alltrue([
      for t in nonsensitive(output.consul_acl.tokens) :
      can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$", t.secret_id)) && startswith(t.description, "ensemble-managed ${t.host} ")
    ])
    error_message = "tokens, accessors and coturn secrets must be distinct UUIDs (coturn: 64 hex characters), each described as ensemble-managed"
  }
  assert {
    condition     = sort(distinct([for t in nonsensitive(output.consul_acl.tokens) : t.host])) == sort(concat(["consul-1", "consul-2", "consul-3"], output.node_names, [for s in scaleway_instance_server.selector : s.name]))
    error_message = "consul_acl must list tokens for exactly the hosts that exist"
  }
  assert {
    condition     = alltrue([for t in nonsensitive(output.consul_acl.tokens) : alltrue([for p in t.policies : contains(keys(output.consul_acl.policies), p)])])
    error_message = "every policy a token names must be in consul_acl.policies"
  }
}

run "node_removed" {
  command = plan
  variables {
    node_count = 2
  }
  assert {
    condition     = length([for t in nonsensitive(output.consul_acl.tokens) : t if t.host == "meet-0003"]) == 0 && length([for t in nonsensitive(output.consul_acl.tokens) : t if t.host == "meet-0002"]) == 2
    error_message = "removing meet-0003 must remove its tokens from consul_acl (and keep meet-0002's)"
  }
}

run "rotate_one_node" {
  command = plan
  variables {
    secret_generations = { "meet-0002" = 2 }
  }
  # A secret ID starts with the first 8 hex digits of sha256("ensemble\n<seed>\n<host>\n<purpose>\n<generation>").
  assert {
    condition = alltrue([
      for t in nonsensitive(output.consul_acl.tokens) :
      substr(t.secret_id, 0, 8) == substr(nonsensitive(sha256("ensemble\n${var.secrets_seed}\n${t.host}\n${t.purpose}\n${t.host == "meet-0002" ? 2 : 1}")), 0, 8)
    ])
    error_message = "raising meet-0002's generation must change its tokens and no other host's"
  }
}
