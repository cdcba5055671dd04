terraform {
  required_version = ">= 1.9.0"

  required_providers {
    # The schema this module is checked against offline is that of @pulumiverse/scaleway 1.54.0
    # (docs/infra.md, "What CI checks"); it was built from provider v2.80.x.
    scaleway = {
      source  = "scaleway/scaleway"
      version = ">= 2.80.0, < 3.0.0"
    }
  }

  # State and plan files hold every secret of the fleet (user_data is read back on every
  # refresh), so both are encrypted, and OpenTofu refuses to write either unencrypted
  # (enforced). The key comes from the operator's passphrase (TF_VAR_state_passphrase); it
  # applies to the local state file and to the pg backend alike. Rotating it: docs/infra.md.
  encryption {
    key_provider "pbkdf2" "passphrase" {
      passphrase = var.state_passphrase
    }
    method "aes_gcm" "passphrase" {
      keys = key_provider.pbkdf2.passphrase
    }
    state {
      method   = method.aes_gcm.passphrase
      enforced = true
    }
    plan {
      method   = method.aes_gcm.passphrase
      enforced = true
    }
  }

  # State is local by default (terraform.tfstate next to this file), good for a first try.
  # For a team, copy backend_pg.tf.example to backend_pg.tf: state in PostgreSQL, with a lock
  # so that two runs cannot apply at once.
}

provider "scaleway" {
  project_id = var.project_id
  region     = var.region
  zone       = var.zone
}
