# The control hosts: three Consul servers, one per hypervisor (max_availability, enforced: a
# quorum must not share a hypervisor), at fixed private addresses every agent's retry_join names. The first also runs Prometheus. They boot
# the base image and are configured by Ansible (docs/infra.md, step 4).

resource "scaleway_instance_placement_group" "control" {
  name        = "ensemble-control"
  zone        = var.zone
  policy_type = "max_availability"
  policy_mode = "enforced"
  tags        = local.tags
}

resource "scaleway_instance_ip" "control" {
  count = 3

  zone = var.zone
  type = "routed_ipv4"
  tags = local.tags
}

resource "scaleway_instance_server" "control" {
  count = 3

  name               = "consul-${count.index + 1}"
  zone               = var.zone
  type               = var.control.commercial_type
  image              = var.images.base
  ip_id              = scaleway_instance_ip.control[count.index].id
  security_group_id  = scaleway_instance_security_group.host["control"].id
  placement_group_id = scaleway_instance_placement_group.control.id
  user_data          = { "cloud-init" = local.plain_cloud_init }
  tags               = concat(local.tags, ["consul-server"], count.index == 0 ? ["prometheus"] : [])
}

resource "scaleway_instance_private_nic" "control" {
  count = 3

  zone               = var.zone
  server_id          = scaleway_instance_server.control[count.index].id
  private_network_id = scaleway_vpc_private_network.fleet.id
  ipam_ip_ids        = [scaleway_ipam_ip.control[count.index].id]
  tags               = local.tags
}
