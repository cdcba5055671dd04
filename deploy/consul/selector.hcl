# ACL policy of the selector's token (selector_consul_token).
#   consul acl policy create -name ensemble-selector -rules @deploy/consul/selector.hcl
#   consul acl token create -description "selector <host>" -policy-name ensemble-selector
# Reads the passing jitsi nodes (service and node read), keeps room bindings under
# ensemble/rooms/ (consulrooms), and registers itself as ensemble-selector.
service "jitsi" {
  policy = "read"
}
node_prefix "" {
  policy = "read"
}
key_prefix "ensemble/rooms/" {
  policy = "write"
}
service "ensemble-selector" {
  policy = "write"
}
