# ACL policy of every Jitsi node's sidecar token (user-data consul.sidecar_token).
#   consul acl policy create -name ensemble-jitsi-sidecar -rules @deploy/consul/jitsi-sidecar.hcl
#   consul acl token create -description "sidecar <node>" -policy-name ensemble-jitsi-sidecar
# The sidecar registers, re-registers, puts into maintenance and deregisters its node's instance
# of the jitsi service through the local agent: service:write on that one service name, and
# nothing else: no node, KV, ACL, agent, operator or other service rights (default deny).
#
# What Consul cannot narrow (v1.16, agent/consul/catalog_endpoint.go vetRegisterWithACL; the
# config-entry check is ServiceWriteAllowed on the entry's name): service:write is granted by
# service name, not per node, and covers the jitsi service-defaults config entry. With this
# token a node can therefore write the jitsi instance, its service checks and that config entry
# on any existing node through /v1/catalog/register (node fields unchanged or SkipNodeUpdate)
# and deregister it. The selector is built not to believe any of that: a node's identity is its
# Consul node name (node:write, only that node's agent token), its public URL
# https://<node>.<allowed domain>, an overwritten entry keeps the node's last bound one, and only
# the node's own checks count (docs/security.md, N1).
service "jitsi" {
  policy = "write"
}
