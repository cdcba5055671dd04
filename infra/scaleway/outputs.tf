output "selector_url" {
  description = "Where users start meetings."
  value       = "https://${local.selector_fqdn}/"
}

output "prometheus_url" {
  description = "Prometheus on the first control host (port 9090 open only to prometheus_allowed_cidrs; otherwise tunnel over SSH)."
  value       = "http://${local.prometheus_fqdn}:9090/"
}

output "node_names" {
  description = "Jitsi node names, in order."
  value       = local.node_names
}

output "nodes" {
  description = "Per node: public name, public IPv4 address and instance ID (for the Ansible inventory and for draining)."
  value = {
    for name, s in scaleway_instance_server.jitsi : name => {
      public_name = "${name}.${var.domain}"
      public_ip   = scaleway_instance_ip.jitsi[name].address
      instance_id = s.id
    }
  }
}

output "control_hosts" {
  description = "Consul servers (the first runs Prometheus): public and private addresses."
  value = [for i, s in scaleway_instance_server.control : {
    name       = s.name
    public_ip  = scaleway_instance_ip.control[i].address
    private_ip = local.consul_server_ips[i]
  }]
}

output "selectors" {
  description = "Selector instances: public and private addresses."
  value = [for i, s in scaleway_instance_server.selector : {
    name       = s.name
    public_ip  = scaleway_instance_ip.selector[i].address
    private_ip = local.selector_ips[i]
  }]
}

output "load_balancer_ip" {
  description = "Public address of the selectors' load balancer."
  value       = scaleway_lb_ip.selectors.ip_address
}

output "consul_retry_join" {
  description = "Private addresses of the Consul servers, as every node's user-data lists them."
  value       = local.consul_server_ips
}

output "consul_acl" {
  description = "Input of consul-acl-sync.py: the policies and every managed Consul token (accessor and secret IDs, node identities, policies). tofu output -json consul_acl | ./consul-acl-sync.py"
  value       = local.consul_acl
  sensitive   = true
}

output "consul_management_token" {
  description = "The Consul servers' initial management token (Ansible base_consul_initial_management_token, then CONSUL_HTTP_TOKEN for consul-acl-sync.py). With it the servers need no ACL bootstrap."
  value       = local.secret_uuid.fleet.management
  sensitive   = true
}

output "host_tokens" {
  description = "Consul tokens of the hosts Ansible configures, by host name: agent_token (base_consul_agent_token) and, on selectors, selector_token (selector_consul_token) and registration_token (selector_consul_registration_token)."
  value = merge(
    { for c in local.control_names : c => { agent_token = local.secret_uuid[c].agent } },
    { for s in local.selector_names : s => { agent_token = local.secret_uuid[s].agent, selector_token = local.secret_uuid[s].selector, registration_token = local.secret_uuid[s].registration } },
  )
  sensitive = true
}

output "selector_tls" {
  description = "The certificate chain and key the selectors' nginx serves to the load balancer (Ansible selector_tls_certificate_src / selector_tls_key_src)."
  value       = { certificate = var.tls_certificate, private_key = var.tls_private_key }
  sensitive   = true
}
