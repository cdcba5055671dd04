# The jitsi image starts from Debian, like the base image, and runs base.yml before jitsi.yml:
# a builder booted from the base image would load its firewall at boot, which may not admit the
# build host (base_firewall_ssh_sources), while a build never starts the firewall.
source "scaleway" "jitsi" {
  zone            = var.zone
  commercial_type = var.commercial_type
  image           = var.source_image
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
    playbook_file = "${local.playbooks}/base.yml"
    groups        = ["jitsi"]
    user          = "root"
    # Ansible connects to the builder directly with Packer's key: v1.0.3's SSH proxy offers an
    # RSA/SHA-1 host key that OpenSSH >= 8.8 refuses and breaks OpenSSH 9's SFTP-mode scp. The CI
    # source has no communicator, where v1.0.3 panics without its proxy (provisioner.go:550);
    # the proxy is never used there (chroot connection).
    use_proxy        = source.type == "null"
    ansible_env_vars = local.ansible_env
    extra_arguments  = concat(local.ansible_args, source.type == "null" ? local.ci_ansible_args : [])
  }

  provisioner "ansible" {
    playbook_file    = "${local.playbooks}/jitsi.yml"
    groups           = ["jitsi"]
    user             = "root"
    use_proxy        = source.type == "null"
    ansible_env_vars = local.ansible_env
    extra_arguments  = concat(local.ansible_args, source.type == "null" ? local.ci_ansible_args : [])
  }

  # Nothing of the builder may stay in the image: SSH host keys (the base role's ssh.service
  # drop-in regenerates them at boot), the build key, the machine ID, cloud-init's instance data,
  # Consul's data, logs (ensemble-image-cleanup, from the base role).
  provisioner "shell" {
    only   = ["scaleway.jitsi"]
    inline = local.image_cleanup
  }

  post-processor "manifest" {
    output     = local.manifest
    strip_path = true
  }
}
