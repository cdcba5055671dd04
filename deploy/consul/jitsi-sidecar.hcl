# ACL policy of every Jitsi node's sidecar token (user-data consul.sidecar_token). The token also
# carries the node identity of its own node:
#   consul acl policy create -name ensemble-jitsi-sidecar -rules @deploy/consul/jitsi-sidecar.hcl
#   consul acl token create -description "sidecar <node>" -policy-name ensemble-jitsi-sidecar \
#     -node-identity "<node>:<datacenter>"
# The sidecar registers, re-registers, puts into maintenance and deregisters its node's instance
# of the jitsi service through the local agent (this policy: service:write on that one service
# name, and nothing else: no KV, ACL, agent, operator or other service rights, default deny), and
# registers its health as the node-level check ensemble-sidecar:<node> (the node identity:
# node:write on its own node only).
#
# What Consul cannot narrow (v1.16, agent/consul/catalog_endpoint.go vetRegisterWithACL; the
# config-entry check is ServiceWriteAllowed on the entry's name): service:write is granted by
# service name, not per node, and covers the jitsi service-defaults config entry. With this
# token a node can therefore write the jitsi instance, its service checks and that config entry
# on any existing node through /v1/catalog/register (node fields unchanged or SkipNodeUpdate),
# turn a node check into a service check of the same ID, and deregister the instance. The
# selector is built not to believe any of that: a node's identity is its Consul node name
# (node:write), its public URL https://<node>.<allowed domain>, an overwritten entry keeps the
# node's last bound one, its health is only its node-level checks, and a deregistered instance
# of a node that is alive is held draining (docs/security.md, N1).
service "jitsi" {
  policy = "write"
}
