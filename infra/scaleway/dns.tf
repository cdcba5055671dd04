# DNS: one A record per node (the name its user-data gives it), the selector entry point on the
# load balancer, and Prometheus on the first control host.

resource "scaleway_domain_record" "node" {
  for_each = toset(local.node_names)

  dns_zone = var.domain
  name     = each.key
  type     = "A"
  data     = scaleway_instance_ip.jitsi[each.key].address
  ttl      = 300
}

resource "scaleway_domain_record" "selector" {
  dns_zone = var.domain
  name     = var.names.selector
  type     = "A"
  data     = scaleway_lb_ip.selectors.ip_address
  ttl      = 300
}

resource "scaleway_domain_record" "prometheus" {
  dns_zone = var.domain
  name     = var.names.prometheus
  type     = "A"
  data     = scaleway_instance_ip.control[0].address
  ttl      = 300
}
