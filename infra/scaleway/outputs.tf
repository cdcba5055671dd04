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
    for name in local.node_names : name => {
      public_name = "${name}.${var.domain}"
      public_ip   = scaleway_instance_ip.jitsi[name].address
      instance_id = scaleway_instance_server.jitsi[name].id
    }
  }
}

output "control_hosts" {
  description = "Consul servers (the first runs Prometheus): public and private addresses."
  value = [for i in range(3) : {
    name       = scaleway_instance_server.control[i].name
    public_ip  = scaleway_instance_ip.control[i].address
    private_ip = local.consul_server_ips[i]
  }]
}

output "selectors" {
  description = "Selector instances: public and private addresses."
  value = [for i in range(var.selector_count) : {
    name       = scaleway_instance_server.selector[i].name
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
