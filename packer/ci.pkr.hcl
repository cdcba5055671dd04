# CI builds the same templates into a local root directory instead of a cloud instance: the null
# source does nothing by itself, and the ansible provisioner reaches the root through Ansible's
# chroot connection. Select these builds with -only='*.null.ci'.

variable "ci_chroot" {
  type        = string
  default     = ""
  description = "Root directory the ci source provisions (CI only)."
}

source "null" "ci" {
  communicator = "none"
}

locals {
  # Extra variables outrank the provisioner's generated inventory, so they redirect it. Pipelining
  # (ansible.cfg, for SSH) made the chroot runs slower here: 80 s against 65-70 s for the control
  # playbooks.
  ci_ansible_args = ["-e", "ansible_connection=community.general.chroot", "-e", "ansible_host=${var.ci_chroot}",
  "-e", "ansible_pipelining=false"]
}
