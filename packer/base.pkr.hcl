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
    playbook_file = "${local.playbooks}/base.yml"
    user          = "root"
    # Ansible connects to the builder directly with Packer's key: v1.0.3's SSH proxy offers an
    # RSA/SHA-1 host key that OpenSSH >= 8.8 refuses and breaks OpenSSH 9's SFTP-mode scp. The CI
    # source has no communicator, where v1.0.3 panics without its proxy (provisioner.go:550);
    # the proxy is never used there (chroot connection).
    use_proxy        = source.type == "null"
    ansible_env_vars = local.ansible_env
    extra_arguments  = concat(local.ansible_args, source.type == "null" ? local.ci_ansible_args : [])
  }

  # Nothing of the builder may stay in the image: SSH host keys (the base role's ssh.service
  # drop-in regenerates them at boot), the build key, the machine ID, cloud-init's instance data,
  # Consul's data, logs (ensemble-image-cleanup, from the base role).
  provisioner "shell" {
    only   = ["scaleway.base"]
    inline = local.image_cleanup
  }

  post-processor "manifest" {
    output     = local.manifest
    strip_path = true
  }
}
