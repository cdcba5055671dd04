# ACL policy of the selector's token (selector_consul_token), the one the network-facing
# ensemble-selector process holds.
#   consul acl policy create -name ensemble-selector -rules @deploy/consul/selector.hcl
#   consul acl token create -description "selector <host>" -policy-name ensemble-selector
# Reads the jitsi nodes (service and node read) and keeps room bindings under ensemble/rooms/
# (consulrooms). It writes no service: Consul authorises a service write by service name on
# every existing node, so a service right here would let this token register on Jitsi nodes.
# The host's agent registers ensemble-selector with its own token (selector-registration.hcl).
service "jitsi" {
  policy = "read"
}
node_prefix "" {
  policy = "read"
}
key_prefix "ensemble/rooms/" {
  policy = "write"
}
