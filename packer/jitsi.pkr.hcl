locals {
  # The jitsi image starts from the base image: -var base_image=ID, or else the newest base build
  # in manifest.json (written by the base build's manifest post-processor).
  base_builds = try([for b in jsondecode(file(local.manifest)).builds : b.artifact_id if b.name == "base"], [])
  base_image  = var.base_image != "" ? var.base_image : try(split(":", element(local.base_builds, length(local.base_builds) - 1))[1], "")
}

source "scaleway" "jitsi" {
  zone            = var.zone
  commercial_type = var.commercial_type
  image           = local.base_image
  image_name      = "${var.image_prefix}-jitsi-${local.timestamp}"
  snapshot_name   = "${var.image_prefix}-jitsi-${local.timestamp}"
  server_name     = "${var.image_prefix}-jitsi-builder"
  ssh_username    = "root"
  remove_volume   = true
}

build {
  name    = "jitsi"
  sources = ["source.scaleway.jitsi", "source.null.ci"]

  provisioner "ansible" {
    playbook_file    = "${local.playbooks}/jitsi.yml"
    groups           = ["jitsi"]
    user             = "root"
    ansible_env_vars = local.ansible_env
    extra_arguments  = concat(local.ansible_args, source.type == "null" ? local.ci_ansible_args : [])
  }

  # Per-instance identity must not be baked into the image: SSH host keys (the base role's
  # ssh.service drop-in regenerates them at boot), the machine ID and Consul's node ID and data.
  provisioner "shell" {
    only   = ["scaleway.jitsi"]
    inline = local.image_cleanup
  }

  post-processor "manifest" {
    output     = local.manifest
    strip_path = true
  }
}
