# Inputs the module must refuse, each with the input (or resource precondition) that refuses it
# (tofu test -var-file=testdata/valid.tfvars). testdata/invalid/*.tfvars check the messages.

mock_provider "scaleway" {}

run "defaults_in_one_volume_family" {
  command = plan
  assert {
    condition     = length(local.mixed_families) == 0 && toset(values(local.type_families)) == toset([var.image_volume_type])
    error_message = "the default instance types and the Packer builder's must all boot the images' l_ssd root volume"
  }
}

run "rejects_mixed_volume_families" {
  command = plan
  variables {
    selector_commercial_type = "PRO2-XXS"
  }
  expect_failures = [scaleway_vpc_private_network.fleet]
}

run "rejects_image_from_another_zone" {
  command = plan
  variables {
    images = { base = "fr-par-1/aaaaaaaa-0000-4000-8000-000000000001", jitsi = "fr-par-2/aaaaaaaa-0000-4000-8000-000000000002" }
  }
  expect_failures = [scaleway_vpc_private_network.fleet]
}

run "acme_at_the_limit" {
  command = plan
  variables {
    certificate_mode = "acme"
    node_count       = 40
  }
}

run "rejects_acme_above_the_limit" {
  command = plan
  variables {
    certificate_mode = "acme"
    node_count       = 41
  }
  expect_failures = [scaleway_vpc_private_network.fleet]
}

run "rejects_acme_without_selector_certificate" {
  command = plan
  variables {
    certificate_mode = "acme"
    tls_certificate  = null
    tls_private_key  = null
  }
  expect_failures = [scaleway_vpc_private_network.fleet]
}

run "rejects_zero_nodes" {
  command = plan
  variables {
    node_count = 0
  }
  expect_failures = [var.node_count]
}

run "rejects_public_cidr" {
  command = plan
  variables {
    private_network_cidr = "51.15.0.0/22"
  }
  expect_failures = [var.private_network_cidr]
}

run "rejects_one_selector" {
  command = plan
  variables {
    selector_count = 1
  }
  expect_failures = [var.selector_count]
}

run "rejects_provided_without_certificate" {
  command = plan
  variables {
    tls_certificate = null
  }
  expect_failures = [scaleway_vpc_private_network.fleet]
}
