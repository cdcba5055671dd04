# ACL policy of the token a selector host's Consul agent registers ensemble-selector with
# (selector_consul_registration_token; it stays in the agent's configuration, never in the
# selector process).
#   consul acl policy create -name ensemble-selector-registration -rules @deploy/consul/selector-registration.hcl
#   consul acl token create -description "selector registration <host>" -policy-name ensemble-selector-registration
# Prometheus finds the selectors through this service. Consul lets this right register the
# service on any existing node; a stray ensemble-selector instance is scraped but never places
# or redirects a room.
service "ensemble-selector" {
  policy = "write"
}
