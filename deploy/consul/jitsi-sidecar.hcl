# ACL policy of every Jitsi node's sidecar token (user-data consul.sidecar_token).
#   consul acl policy create -name ensemble-jitsi-sidecar -rules @deploy/consul/jitsi-sidecar.hcl
#   consul acl token create -description "sidecar <node>" -policy-name ensemble-jitsi-sidecar
# The sidecar registers, re-registers, puts into maintenance and deregisters its node's instance
# of the jitsi service through the local agent: service:write on that one service name, nothing
# else (it cannot touch other services, nodes or KV).
service "jitsi" {
  policy = "write"
}
