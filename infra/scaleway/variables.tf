# Inputs. Every validation message starts with the variable's name, so a bad terraform.tfvars
# fails at `tofu plan` (or `tofu validate`) saying what to fix.

variable "project_id" {
  description = "Scaleway project ID (UUID) the fleet is created in."
  type        = string
  validation {
    condition     = can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", var.project_id))
    error_message = "project_id must be a Scaleway project ID: a lower-case UUID such as 11111111-2222-3333-4444-555555555555."
  }
}

variable "region" {
  description = "Scaleway region: fr-par, nl-ams or pl-waw."
  type        = string
  default     = "fr-par"
  validation {
    condition     = contains(["fr-par", "nl-ams", "pl-waw"], var.region)
    error_message = "region must be one of fr-par, nl-ams, pl-waw."
  }
}

variable "zone" {
  description = "Scaleway availability zone of every instance and the load balancer, inside region (e.g. fr-par-2)."
  type        = string
  default     = "fr-par-1"
  validation {
    condition     = can(regex("^(fr-par|nl-ams|pl-waw)-[1-3]$", var.zone))
    error_message = "zone must be an availability zone such as fr-par-1, nl-ams-2 or pl-waw-3."
  }
}

variable "domain" {
  description = "DNS zone managed in Scaleway Domains and DNS; every name of the fleet is created under it."
  type        = string
  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain)) && length(var.domain) <= 200
    error_message = "domain must be a lower-case DNS name such as example.org (at most 200 characters, so node names fit in 253)."
  }
}

variable "node_name_prefix" {
  description = "Jitsi nodes are named <prefix>-0001, <prefix>-0002, ... and reached at <name>.<domain>."
  type        = string
  default     = "meet"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,40}[a-z0-9]$", var.node_name_prefix))
    error_message = "node_name_prefix must be 2-42 characters of a-z, 0-9 and -, starting with a letter."
  }
}

variable "node_count" {
  description = "Number of Jitsi nodes. Lowering it destroys the highest-numbered nodes: drain them first (docs/infra.md)."
  type        = number
  validation {
    condition     = var.node_count >= 1 && var.node_count <= 999 && floor(var.node_count) == var.node_count
    error_message = "node_count must be a whole number from 1 to 999."
  }
}

variable "node_commercial_type" {
  description = "Instance type of the Jitsi nodes (e.g. DEV1-L, GP1-S). It must boot the images' root volume type (image_volume_type): local-SSD types (DEV1, GP1, ...) for the images the pinned Packer plugin bakes."
  type        = string
  default     = "DEV1-L"
  validation {
    condition     = can(regex("^[A-Z0-9]+(-[A-Z0-9]+)+$", var.node_commercial_type))
    error_message = "node_commercial_type must be a Scaleway commercial type such as DEV1-L or GP1-S (upper case)."
  }
}

variable "image_volume_type" {
  description = "Root volume type of the images (packer/): l_ssd (local SSD, what the pinned Packer plugin v1.0.4 bakes) or sbs_volume (Block Storage, Packer plugin >= 1.3). Every instance type must boot it."
  type        = string
  default     = "l_ssd"
  validation {
    condition     = contains(["l_ssd", "sbs_volume"], var.image_volume_type)
    error_message = "image_volume_type must be l_ssd or sbs_volume."
  }
}

variable "image_builder_commercial_type" {
  description = "The commercial_type the images were baked on (packer/variables.pkr.hcl); its volume family must be image_volume_type's, like every instance type of the fleet."
  type        = string
  default     = "GP1-XS"
  validation {
    condition     = can(regex("^[A-Z0-9]+(-[A-Z0-9]+)+$", var.image_builder_commercial_type))
    error_message = "image_builder_commercial_type must be a Scaleway commercial type such as GP1-XS."
  }
}

variable "images" {
  description = "Image IDs from the Packer manifest (packer/manifest.json): base for the control hosts and selectors, jitsi for the nodes. Either a UUID or zone/UUID; a zone prefix must be var.zone."
  type = object({
    base  = string
    jitsi = string
  })
  validation {
    condition = alltrue([
      for id in [var.images.base, var.images.jitsi] :
      can(regex("^((fr-par|nl-ams|pl-waw)-[1-3]/)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", id))
    ])
    error_message = "images.base and images.jitsi must be image IDs (UUID, or zone/UUID as in packer/manifest.json's artifact_id with : replaced by /)."
  }
}

variable "private_network_cidr" {
  description = "IPv4 CIDR of the fleet's private network, inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16, from /16 to /26. Consul binds to it and gossip and scrapes are accepted only from it."
  type        = string
  default     = "172.16.0.0/22"
  validation {
    condition = can(cidrhost(var.private_network_cidr, 0)) && try(
      cidrhost(var.private_network_cidr, 0) == split("/", var.private_network_cidr)[0] &&
      tonumber(split("/", var.private_network_cidr)[1]) >= 16 &&
      tonumber(split("/", var.private_network_cidr)[1]) <= 26 &&
      anytrue([
        for r in ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"] :
        cidrhost("${split("/", var.private_network_cidr)[0]}/${split("/", r)[1]}", 0) == split("/", r)[0]
      ]),
    false)
    error_message = "private_network_cidr must be a private IPv4 network (inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16) written with its network address, from /16 to /26, e.g. 172.16.0.0/22."
  }
}

variable "ssh_public_keys" {
  description = "SSH public keys allowed to log in as root on every instance (cloud-init ssh_authorized_keys)."
  type        = list(string)
  validation {
    condition     = length(var.ssh_public_keys) >= 1 && alltrue([for k in var.ssh_public_keys : can(regex("^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh.com) [A-Za-z0-9+/=]+( .*)?$", k))])
    error_message = "ssh_public_keys must hold at least one OpenSSH public key line (ssh-ed25519 AAAA... comment)."
  }
}

variable "ssh_allowed_cidrs" {
  description = "Public IPv4 CIDRs SSH is open to (security groups); use your bastion or office range. 0.0.0.0/0 is allowed but says so in the plan."
  type        = list(string)
  validation {
    condition     = length(var.ssh_allowed_cidrs) >= 1 && alltrue([for c in var.ssh_allowed_cidrs : can(cidrhost(c, 0)) && !can(regex(":", c))])
    error_message = "ssh_allowed_cidrs must hold at least one IPv4 CIDR such as 203.0.113.7/32."
  }
}

variable "control" {
  description = "The control hosts: three Consul servers in a max_availability placement group; the first also runs Prometheus. consul_datacenter is the Consul datacenter every agent joins."
  type = object({
    commercial_type   = string
    consul_datacenter = optional(string, "dc1")
  })
  default = { commercial_type = "DEV1-M" }
  validation {
    condition     = can(regex("^[A-Z0-9]+(-[A-Z0-9]+)+$", var.control.commercial_type)) && can(regex("^[a-z0-9_-]{1,64}$", var.control.consul_datacenter))
    error_message = "control.commercial_type must be a Scaleway commercial type (e.g. DEV1-M) and control.consul_datacenter 1-64 characters of a-z, 0-9, _ and -."
  }
}

variable "prometheus_allowed_cidrs" {
  description = "Public IPv4 CIDRs that may reach Prometheus (port 9090) on the first control host, e.g. a Grafana host. Empty keeps it closed (use an SSH tunnel)."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for c in var.prometheus_allowed_cidrs : can(cidrhost(c, 0)) && !can(regex(":", c))])
    error_message = "prometheus_allowed_cidrs must hold IPv4 CIDRs such as 198.51.100.4/32."
  }
}

variable "selector_count" {
  description = "Number of selector instances behind the load balancer, in a max_availability placement group (at least 2, so one can fail or be upgraded; at most 8, the private addresses reserved for selectors)."
  type        = number
  default     = 2
  validation {
    condition     = var.selector_count >= 2 && var.selector_count <= 8 && floor(var.selector_count) == var.selector_count
    error_message = "selector_count must be a whole number from 2 to 8: one selector is a single point of failure, and 8 private addresses are reserved for selectors."
  }
}

variable "selector_commercial_type" {
  description = "Instance type of the selectors."
  type        = string
  default     = "DEV1-S"
  validation {
    condition     = can(regex("^[A-Z0-9]+(-[A-Z0-9]+)+$", var.selector_commercial_type))
    error_message = "selector_commercial_type must be a Scaleway commercial type such as DEV1-S."
  }
}

variable "lb_type" {
  description = "Scaleway load balancer type in front of the selectors."
  type        = string
  default     = "LB-S"
  validation {
    condition     = contains(["LB-S", "LB-GP-M", "LB-GP-L", "LB-GP-XL"], var.lb_type)
    error_message = "lb_type must be one of LB-S, LB-GP-M, LB-GP-L, LB-GP-XL."
  }
}

variable "names" {
  description = "Host names (under domain) of the selector entry point and of Prometheus."
  type = object({
    selector   = optional(string, "meet")
    prometheus = optional(string, "prometheus")
  })
  default = {}
  validation {
    condition     = alltrue([for n in [var.names.selector, var.names.prometheus] : can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", n))])
    error_message = "names.selector and names.prometheus must be single DNS labels (a-z, 0-9, -)."
  }
}

variable "certificate_mode" {
  description = "How the Jitsi nodes get TLS certificates: provided (a wildcard certificate for *.<domain> in tls_certificate/tls_private_key) or acme (each node asks Let's Encrypt over HTTP-01 at first boot; at most 40 nodes, Let's Encrypt's weekly limit is 50 certificates per registered domain). The load balancer and the selectors always use tls_certificate, which must then cover at least <names.selector>.<domain>."
  type        = string
  default     = "provided"
  validation {
    condition     = contains(["provided", "acme"], var.certificate_mode)
    error_message = "certificate_mode must be provided or acme."
  }
}

variable "tls_certificate" {
  description = "PEM chain, publicly trusted, served by the load balancer and by the selectors (the load balancer verifies them). provided mode: its leaf covers *.<domain> (every node and the selector name); acme mode: it covers at least <names.selector>.<domain>."
  type        = string
  default     = null
  validation {
    condition     = var.tls_certificate == null || can(regex("^-----BEGIN CERTIFICATE-----", trimspace(coalesce(var.tls_certificate, "x"))))
    error_message = "tls_certificate must be a PEM certificate chain starting with -----BEGIN CERTIFICATE-----."
  }
}

variable "tls_private_key" {
  description = "PEM private key of tls_certificate's leaf."
  type        = string
  default     = null
  sensitive   = true
  validation {
    condition     = var.tls_private_key == null || can(regex("^-----BEGIN ([A-Z]+ )?PRIVATE KEY-----", trimspace(coalesce(var.tls_private_key, "x"))))
    error_message = "tls_private_key must be a PEM private key (-----BEGIN PRIVATE KEY----- or -----BEGIN EC/RSA PRIVATE KEY-----)."
  }
}

variable "acme_email" {
  description = "certificate_mode = acme: contact address given to Let's Encrypt (optional)."
  type        = string
  default     = null
  validation {
    condition     = var.acme_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", coalesce(var.acme_email, "x")))
    error_message = "acme_email must be an e-mail address."
  }
}

variable "consul_gossip_key" {
  description = "Consul gossip encryption key (consul keygen: base64 of 32 bytes), shared by the datacenter."
  type        = string
  sensitive   = true
  validation {
    condition     = can(regex("^[A-Za-z0-9+/]{43}=$", var.consul_gossip_key))
    error_message = "consul_gossip_key must be the output of consul keygen (44 base64 characters)."
  }
}

variable "consul_ca_certificate" {
  description = "PEM certificate of the Consul CA (consul tls ca create); agents verify the servers with it."
  type        = string
  validation {
    condition     = can(regex("^-----BEGIN CERTIFICATE-----", trimspace(var.consul_ca_certificate)))
    error_message = "consul_ca_certificate must be a PEM certificate starting with -----BEGIN CERTIFICATE-----."
  }
}

variable "secrets_seed" {
  description = "Operator-provided secret (at least 32 characters, e.g. openssl rand -hex 32) from which every Consul token (secret and accessor IDs) and coturn secret of the fleet is derived: sha256(seed, host, purpose, generation). Keep it in your secrets store; it is as powerful as the state."
  type        = string
  sensitive   = true
  validation {
    condition     = length(var.secrets_seed) >= 32
    error_message = "secrets_seed must be at least 32 characters (openssl rand -hex 32)."
  }
}

variable "secret_generations" {
  description = "Rotation: host name (meet-0002, selector-1, consul-2, or fleet for the management token) => generation, 1 when absent. Raising a host's number gives it new tokens and a new coturn secret (docs/infra.md, \"Secrets\")."
  type        = map(number)
  default     = {}
  validation {
    condition     = alltrue([for h, g in var.secret_generations : g >= 1 && floor(g) == g && can(regex("^[a-z][a-z0-9-]*$", h))])
    error_message = "secret_generations maps host names to whole numbers from 1."
  }
}

variable "state_passphrase" {
  description = "Passphrase of OpenTofu's state and plan encryption (versions.tf: pbkdf2 + AES-GCM, enforced), at least 16 characters. Set it as TF_VAR_state_passphrase; without it OpenTofu can read neither state nor plans."
  type        = string
  sensitive   = true
  validation {
    condition     = length(var.state_passphrase) >= 16
    error_message = "state_passphrase must be at least 16 characters (openssl rand -base64 32)."
  }
}

variable "tags" {
  description = "Extra tags on every resource that takes tags."
  type        = list(string)
  default     = []
}
