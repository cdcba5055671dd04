# A complete set of inputs with fake values (no real account, key or token): the base every
# plan test starts from. terraform.tfvars.example says what each one is.
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
ssh_public_keys       = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTestsOnly0000000000000000000000 ops@example.org"]
ssh_allowed_cidrs     = ["203.0.113.0/24"]
certificate_mode      = "provided"
tls_certificate       = "-----BEGIN CERTIFICATE-----\nTESTWILDCARDCERT\n-----END CERTIFICATE-----\n"
tls_private_key       = "-----BEGIN PRIVATE KEY-----\nTESTWILDCARDKEY\n-----END PRIVATE KEY-----\n"
consul_gossip_key     = "VEVTVC1nb3NzaXAta2V5LTMyLWJ5dGVzLWZvci1DSSE="
consul_ca_certificate = "-----BEGIN CERTIFICATE-----\nTESTCONSULCA\n-----END CERTIFICATE-----\n"
node_secrets = {
  "meet-0001" = { agent_token = "00000001-aaaa-4000-8000-000000000001", sidecar_token = "00000001-bbbb-4000-8000-000000000001", turn_secret = "turn-secret-0001-xxxxxxxxxxxxxxxxxxxxxxxx" }
  "meet-0002" = { agent_token = "00000002-aaaa-4000-8000-000000000002", sidecar_token = "00000002-bbbb-4000-8000-000000000002", turn_secret = "turn-secret-0002-xxxxxxxxxxxxxxxxxxxxxxxx" }
  "meet-0003" = { agent_token = "00000003-aaaa-4000-8000-000000000003", sidecar_token = "00000003-bbbb-4000-8000-000000000003", turn_secret = "turn-secret-0003-xxxxxxxxxxxxxxxxxxxxxxxx" }
}
