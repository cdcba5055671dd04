packer {
  required_version = ">= 1.9.4"
  required_plugins {
    # Exactly the versions built (tools/packer, scripts/install-packer.sh) and tested: the newest
    # the Go module proxy serves. An online `packer init` must not pick a newer, untested one;
    # docs/images.md says what a newer plugin adds and how to move to it.
    scaleway = {
      source  = "github.com/scaleway/scaleway"
      version = "= 1.0.4"
    }
    ansible = {
      source  = "github.com/hashicorp/ansible"
      version = "= 1.0.3"
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
  type    = string
  default = "GP1-XS"
  # Plugin v1.0.4 creates the root volume as local SSD (l_ssd) and snapshots it through the
  # Instance API; SBS-only types (PRO2, POP2, ...) need plugin >= 1.3 (docs/images.md).
  description = "Instance type of the builder: a type with a local-SSD root volume (GP1-*, DEV1-*)."
}

variable "source_image" {
  type = string
  # v1.0.4 resolves any other value through Scaleway's marketplace v1 API, which is gone.
  description = "UUID of the Debian bookworm image to start from, in the build zone (scw marketplace image get debian_bookworm zone=...)."
  validation {
    condition     = can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", var.source_image))
    error_message = "The source_image must be an image UUID (plugin v1.0.4 cannot look labels such as debian_bookworm up any more)."
  }
}

variable "image_prefix" {
  type        = string
  default     = "ensemble"
  description = "Image names are <prefix>-<role>-<UTC timestamp>."
}

variable "ansible_vars_file" {
  type        = string
  default     = ""
  description = "YAML file of role variables (SSH keys and sources, NTP...), passed as -e @file. Never secrets: images carry none."
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

variable "firstboot_binary" {
  type        = string
  default     = ""
  description = "ensemble-firstboot binary to install; empty uses the base role's default (bin/ensemble-firstboot)."
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

  # The base role's script (make test-images runs the same one): host keys, machine ID, the
  # builder's key and cloud-init state, Consul data, logs, whatever a first boot rendered.
  image_cleanup = ["/usr/local/sbin/ensemble-image-cleanup"]

  # The same playbook arguments for the cloud build and the CI chroot build.
  ansible_env = ["ANSIBLE_CONFIG=${local.playbooks}/ansible.cfg", "ANSIBLE_NOCOLOR=1"]
  ansible_args = concat(
    # Baking an image: identity and secrets come from each instance's user-data at boot; the
    # firewall, the agent and the sidecar are enabled but left to the instances' boot (so a
    # builder outside the SSH sources is never locked out); no drain (nothing serves yet).
    ["-e", "base_node_config=firstboot", "-e", "base_firewall_state=stopped", "-e", "base_consul_state=stopped",
    "-e", "jitsi_sidecar_state=stopped", "-e", "jitsi_drain=false"],
    var.ansible_vars_file == "" ? [] : ["-e", "@${var.ansible_vars_file}"],
    var.ansible_vault_password_file == "" ? [] : ["--vault-password-file", var.ansible_vault_password_file],
    var.consul_binary == "" ? [] : ["-e", "base_consul_binary_src=${var.consul_binary}"],
    var.firstboot_binary == "" ? [] : ["-e", "base_firstboot_binary_src=${var.firstboot_binary}"],
    var.sidecar_binary == "" ? [] : ["-e", "jitsi_sidecar_binary_src=${var.sidecar_binary}"],
  )
}
