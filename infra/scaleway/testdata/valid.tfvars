# A complete set of inputs with fake values (no real account, key or token): the base every
# plan and `tofu test` run starts from (tofu test -var-file=testdata/valid.tfvars).
# terraform.tfvars.example says what each one is. state_passphrase comes from the environment
# (TF_VAR_state_passphrase), as docs/infra.md has the operator set it.
project_id           = "11111111-2222-3333-4444-555555555555"
region               = "fr-par"
zone                 = "fr-par-2"
domain               = "example.org"
node_count           = 3
private_network_cidr = "172.16.0.0/22"
images = {
  base  = "fr-par-2/aaaaaaaa-0000-4000-8000-000000000001"
  jitsi = "fr-par-2/aaaaaaaa-0000-4000-8000-000000000002"
}
ssh_public_keys          = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTestsOnly0000000000000000000000 ops@example.org"]
ssh_allowed_cidrs        = ["203.0.113.0/24", "198.51.100.7/32"]
prometheus_allowed_cidrs = ["192.0.2.5/32"]
certificate_mode         = "provided"
tls_certificate          = "-----BEGIN CERTIFICATE-----\nTESTWILDCARDCERT\n-----END CERTIFICATE-----\n"
tls_private_key          = "-----BEGIN PRIVATE KEY-----\nTESTWILDCARDKEY\n-----END PRIVATE KEY-----\n"
consul_gossip_key        = "VEVTVC1nb3NzaXAta2V5LTMyLWJ5dGVzLWZvci1DSSE="
consul_ca_certificate    = "-----BEGIN CERTIFICATE-----\nTESTCONSULCA\n-----END CERTIFICATE-----\n"
secrets_seed             = "TESTSEED-0123456789abcdef0123456789abcdef"
