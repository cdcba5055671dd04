# Network, placement and load-balancer invariants (tofu test -var-file=testdata/valid.tfvars).
# Each assertion has a breakage in testdata/broken/ that TestBrokenModules shows it catches.
# mock_provider gives every instance of a resource type the same ID, so which instance refers
# to which (NIC to server and reservation, node to placement group, network to VPC) is checked
# over a real plan with distinct IDs instead: checkPairing in plancheck_test.go.

mock_provider "scaleway" {
  mock_resource "scaleway_instance_ip" {
    defaults = { address = "51.15.0.10" }
  }
  mock_resource "scaleway_lb_ip" {
    defaults = { ip_address = "51.15.0.20" }
  }
}

run "network" {
  command = plan

  # Every Jitsi node on the fleet's private network (Consul binds there).
  assert {
    condition = length(scaleway_instance_server.jitsi) == var.node_count && alltrue([
      for s in scaleway_instance_server.jitsi :
      length(s.private_network) == 1
    ])
    error_message = "every Jitsi node must be on the fleet's private network"
  }

  # The addresses others are told (retry_join, backends, monitoring sources) are those reserved.
  assert {
    condition = alltrue([
      for s in scaleway_instance_server.jitsi :
      nonsensitive(yamldecode(s.user_data["cloud-init"]).ensemble.consul.retry_join) == [for ip in scaleway_ipam_ip.control : ip.address] &&
      nonsensitive(yamldecode(s.user_data["cloud-init"]).ensemble.monitoring_sources) == concat(["${scaleway_ipam_ip.control[0].address}/32"], [for i in range(var.selector_count) : "${scaleway_ipam_ip.selector[i].address}/32"])
    ])
    error_message = "a node's retry_join or monitoring_sources differ from the reserved Consul and selector addresses"
  }
  assert {
    condition     = scaleway_lb_backend.selectors.server_ips == tolist([for i in range(var.selector_count) : scaleway_ipam_ip.selector[i].address])
    error_message = "the load balancer's backends must be exactly the selectors' reserved addresses"
  }
  # All fixed addresses reserved, distinct, inside the network; the load balancer holds its own.
  assert {
    condition = length(scaleway_ipam_ip.selector) >= var.selector_count && length(distinct(concat(
      [for ip in scaleway_ipam_ip.control : ip.address], [for ip in scaleway_ipam_ip.selector : ip.address], [scaleway_ipam_ip.lb.address]
      ))) == 3 + length(scaleway_ipam_ip.selector) + 1 && alltrue([
      for ip in concat(scaleway_ipam_ip.control, scaleway_ipam_ip.selector, [scaleway_ipam_ip.lb]) :
      cidrsubnet("${ip.address}/${split("/", var.private_network_cidr)[1]}", 0, 0) == var.private_network_cidr
    ])
    error_message = "the Consul, selector and load-balancer addresses must be reserved, distinct, in the private network"
  }
  # Placement: the Consul quorum and the selectors on distinct hypervisors, enforced; nodes in
  # groups of at most 20.
  assert {
    condition     = scaleway_instance_placement_group.control.policy_type == "max_availability" && scaleway_instance_placement_group.control.policy_mode == "enforced"
    error_message = "the 3 Consul servers must share an enforced max_availability placement group"
  }
  assert {
    condition     = scaleway_instance_placement_group.selectors.policy_type == "max_availability" && scaleway_instance_placement_group.selectors.policy_mode == "enforced"
    error_message = "every selector must be in the enforced max_availability selectors' group"
  }

  # The load-balancer contract with the selectors' nginx.
  assert {
    condition = (
      scaleway_lb_backend.selectors.forward_port == 443 && scaleway_lb_backend.selectors.ssl_bridging == true &&
      scaleway_lb_backend.selectors.ignore_ssl_server_verify == false && scaleway_lb_backend.selectors.proxy_protocol == "v2" &&
      scaleway_lb_backend.selectors.health_check_send_proxy == true && scaleway_lb_backend.selectors.health_check_port == 443 &&
      scaleway_lb_backend.selectors.health_check_https[0].uri == "/-/ready" && scaleway_lb_backend.selectors.health_check_https[0].code == 200
    )
    error_message = "the backend must forward TLS (verified) with PROXY v2 to :443 and health-check GET /-/ready with the PROXY header"
  }
  assert {
    condition     = scaleway_lb_frontend.https.inbound_port == 443 && scaleway_lb_frontend.https.certificate_ids == tolist([scaleway_lb_certificate.selectors.id]) && length(scaleway_lb_certificate.selectors.custom_certificate) == 1
    error_message = "the load balancer must terminate TLS on 443 with tls_certificate"
  }
}

run "nodes_spread_over_groups" {
  command = plan
  variables {
    node_count = 41
  }
  assert {
    condition     = length(scaleway_instance_placement_group.jitsi) == 3 && alltrue([for g in scaleway_instance_placement_group.jitsi : g.policy_type == "max_availability"])
    error_message = "41 nodes need 3 max_availability groups"
  }
}

run "most_selectors" {
  command = plan
  variables {
    selector_count = 8
  }
  assert {
    condition     = length(scaleway_instance_private_nic.selector) == 8 && length(scaleway_ipam_ip.selector) == 8 && length(scaleway_lb_backend.selectors.server_ips) == 8
    error_message = "8 selectors must hold the 8 reservations and be 8 backends"
  }
}
