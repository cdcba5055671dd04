packer {
  required_version = ">= 1.9.4"
  required_plugins {
    # The newest versions the Go module proxy serves (tools/packer builds them; see docs/images.md).
    scaleway = {
      source  = "github.com/scaleway/scaleway"
      version = "~> 1.0"
    }
    ansible = {
      source  = "github.com/hashicorp/ansible"
      version = "~> 1.0"
    }
  }
}

# Scaleway credentials come from SCW_ACCESS_KEY, SCW_SECRET_KEY and SCW_DEFAULT_PROJECT_ID.

variable "zone" {
  type        = string
  default     = "fr-par-1"
  description = "Scaleway zone the builder instance and the images live in."
}

variable "commercial_type" {
  type        = string
  default     = "DEV1-L"
  description = "Instance type of the builder; the images run on the same type."
}

variable "source_image" {
  type        = string
  default     = "debian_bookworm"
  description = "Marketplace image the base image starts from."
}

variable "base_image" {
  type        = string
  default     = ""
  description = "Image ID the jitsi image starts from; empty takes the last base build from manifest.json."
}

variable "image_prefix" {
  type        = string
  default     = "ensemble"
  description = "Image names are <prefix>-<role>-<UTC timestamp>."
}

variable "ansible_vars_file" {
  type        = string
  default     = ""
  description = "YAML file of role variables (Consul key and tokens, public name...), passed as -e @file."
}

variable "ansible_vault_password_file" {
  type        = string
  default     = ""
  description = "Password file for an ansible-vault encrypted ansible_vars_file."
}

variable "manifest" {
  type        = string
  default     = "manifest.json"
  description = "Where builds record their images (relative to this directory); the jitsi build reads the base image from it."
}

variable "consul_binary" {
  type        = string
  default     = ""
  description = "Consul v1.16.3 binary to install; empty uses the base role's default (~/.cache/ensemble/consul-v1.16.3)."
}

variable "sidecar_binary" {
  type        = string
  default     = ""
  description = "ensemble-sidecar binary to install; empty uses the jitsi role's default (bin/ensemble-sidecar)."
}

locals {
  timestamp = formatdate("YYYYMMDD-hhmmss", timestamp())
  playbooks = "${path.root}/../ansible"
  manifest  = abspath(var.manifest) == var.manifest ? var.manifest : "${path.root}/${var.manifest}"

  # The jitsi builder boots the base image, whose Consul agent starts with it.
  image_cleanup = [
    "systemctl stop consul.service",
    "rm -rf /var/lib/consul/*",
    "rm -f /etc/ssh/ssh_host_*",
    "truncate -s 0 /etc/machine-id",
  ]

  # The same playbook arguments for the cloud build and the CI chroot build.
  ansible_env = ["ANSIBLE_CONFIG=${local.playbooks}/ansible.cfg", "ANSIBLE_NOCOLOR=1"]
  ansible_args = concat(
    # Baking an image: enable the agent and the sidecar but leave them to the instances' boot.
    ["-e", "base_consul_state=stopped", "-e", "jitsi_sidecar_state=stopped"],
    var.ansible_vars_file == "" ? [] : ["-e", "@${var.ansible_vars_file}"],
    var.ansible_vault_password_file == "" ? [] : ["--vault-password-file", var.ansible_vault_password_file],
    var.consul_binary == "" ? [] : ["-e", "base_consul_binary_src=${var.consul_binary}"],
    var.sidecar_binary == "" ? [] : ["-e", "jitsi_sidecar_binary_src=${var.sidecar_binary}"],
  )
}
