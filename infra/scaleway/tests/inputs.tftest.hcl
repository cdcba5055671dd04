# Inputs at the edge of what the module accepts (tofu test -var-file=testdata/valid.tfvars).
# What it refuses, and with which message, is in testdata/invalid/*.tfvars (TestTofuPlanRejects).

mock_provider "scaleway" {}

run "defaults_in_one_volume_family" {
  command = plan
  assert {
    condition     = length(local.mixed_families) == 0 && toset(values(local.type_families)) == toset([var.image_volume_type])
    error_message = "the default instance types and the Packer builder's must all boot the images' l_ssd root volume"
  }
}

run "acme_at_the_limit" {
  command = plan
  variables {
    certificate_mode = "acme"
    node_count       = 40
  }
}
