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

  # State is local by default (terraform.tfstate next to this file), good for a first try.
  # For a team, copy backend_pg.tf.example to backend_pg.tf: state in PostgreSQL, with a lock
  # so that two runs cannot apply at once.
}

provider "scaleway" {
  project_id = var.project_id
  region     = var.region
  zone       = var.zone
}
