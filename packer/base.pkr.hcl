source "scaleway" "base" {
  zone            = var.zone
  commercial_type = var.commercial_type
  image           = var.source_image
  image_name      = "${var.image_prefix}-base-${local.timestamp}"
  snapshot_name   = "${var.image_prefix}-base-${local.timestamp}"
  server_name     = "${var.image_prefix}-base-builder"
  ssh_username    = "root"
  remove_volume   = true
}

build {
  name    = "base"
  sources = ["source.scaleway.base", "source.null.ci"]

  provisioner "ansible" {
    playbook_file    = "${local.playbooks}/base.yml"
    user             = "root"
    ansible_env_vars = local.ansible_env
    extra_arguments  = concat(local.ansible_args, source.type == "null" ? local.ci_ansible_args : [])
  }

  # Per-instance identity must not be baked into the image: SSH host keys (the base role's
  # ssh.service drop-in regenerates them at boot), the machine ID and Consul's node ID and data.
  provisioner "shell" {
    only   = ["scaleway.base"]
    inline = local.image_cleanup
  }

  post-processor "manifest" {
    output     = local.manifest
    strip_path = true
  }
}
