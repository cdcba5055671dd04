# Selectors: two or more, one per hypervisor (max_availability, enforced), at fixed private
# addresses (main.tf reserves all eight), behind a Scaleway load balancer that terminates TLS for
# <names.selector>.<domain>, re-encrypts to the selectors' nginx over the private network and
# sends traffic only to selectors whose /-/ready answers 200 (a fresh catalog, can place rooms).

resource "scaleway_instance_placement_group" "selectors" {
  name        = "ensemble-selectors"
  zone        = var.zone
  policy_type = "max_availability"
  policy_mode = "enforced"
  tags        = local.tags
}

resource "scaleway_instance_ip" "selector" {
  count = var.selector_count

  zone = var.zone
  type = "routed_ipv4"
  tags = local.tags
}

resource "scaleway_instance_server" "selector" {
  count = var.selector_count

  name               = "selector-${count.index + 1}"
  zone               = var.zone
  type               = var.selector_commercial_type
  image              = var.images.base
  ip_id              = scaleway_instance_ip.selector[count.index].id
  security_group_id  = scaleway_instance_security_group.host["selector"].id
  placement_group_id = scaleway_instance_placement_group.selectors.id
  user_data          = { "cloud-init" = local.plain_cloud_init }
  tags               = concat(local.tags, ["selector"])
}

resource "scaleway_instance_private_nic" "selector" {
  count = var.selector_count

  zone               = var.zone
  server_id          = scaleway_instance_server.selector[count.index].id
  private_network_id = scaleway_vpc_private_network.fleet.id
  ipam_ip_ids        = [scaleway_ipam_ip.selector[count.index].id]
  tags               = local.tags
}

resource "scaleway_lb_ip" "selectors" {
  zone = var.zone
  tags = local.tags
}

resource "scaleway_lb" "selectors" {
  name   = "ensemble-selectors"
  zone   = var.zone
  type   = var.lb_type
  ip_ids = [scaleway_lb_ip.selectors.id]
  tags   = local.tags

  private_network {
    private_network_id = scaleway_vpc_private_network.fleet.id
    ipam_ids           = [scaleway_ipam_ip.lb.id]
  }
}

# The load-balancer contract with the selectors' nginx (ansible/roles/selector): TLS to each
# selector's private address on 443 (ssl_bridging, certificate verified), PROXY protocol v2 so
# nginx's limits see the client's address, health checks with the PROXY header too (nginx's
# listener requires it) on GET /-/ready. nginx's selector site is the default_server, so neither
# user traffic nor the checks depend on SNI.
resource "scaleway_lb_backend" "selectors" {
  name                     = "selectors"
  lb_id                    = scaleway_lb.selectors.id
  forward_protocol         = "http"
  forward_port             = 443
  ssl_bridging             = true
  ignore_ssl_server_verify = false
  proxy_protocol           = "v2"
  server_ips               = local.selector_ips

  health_check_port        = 443
  health_check_send_proxy  = true
  health_check_delay       = "5s"
  health_check_timeout     = "3s"
  health_check_max_retries = 2
  on_marked_down_action    = "shutdown_sessions"

  health_check_https {
    uri         = "/-/ready"
    code        = 200
    host_header = local.selector_fqdn
    sni         = local.selector_fqdn
  }
}

# The certificate users see for <names.selector>.<domain>, the same the selectors present to
# the load balancer. Its content is ForceNew in the provider: a new certificate is created (its
# name carries the content's hash) and the frontend moved to it before the old one is deleted.
resource "scaleway_lb_certificate" "selectors" {
  name  = "selectors-${substr(sha256(coalesce(var.tls_certificate, "none")), 0, 12)}"
  lb_id = scaleway_lb.selectors.id

  custom_certificate {
    # Scaleway wants the chain and the key in one PEM bundle.
    certificate_chain = "${trimspace(coalesce(var.tls_certificate, " "))}\n${trimspace(coalesce(var.tls_private_key, " "))}\n"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "scaleway_lb_frontend" "https" {
  name            = "https"
  lb_id           = scaleway_lb.selectors.id
  backend_id      = scaleway_lb_backend.selectors.id
  inbound_port    = 443
  certificate_ids = [scaleway_lb_certificate.selectors.id]
  timeout_client  = "30s"
}

resource "scaleway_lb_frontend" "http" {
  name         = "http-redirect"
  lb_id        = scaleway_lb.selectors.id
  backend_id   = scaleway_lb_backend.selectors.id
  inbound_port = 80

  acl {
    name = "to-https"
    action {
      type = "redirect"
      redirect {
        type   = "scheme"
        target = "https"
        code   = 301
      }
    }
    match {
      http_filter = "acl_http_filter_none"
    }
  }
}
