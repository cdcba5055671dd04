# want: node_secrets: every entry needs agent_token and sidecar_token as two different
node_secrets = { "meet-0001" = { agent_token = "00000001-aaaa-4000-8000-000000000001", sidecar_token = "00000001-aaaa-4000-8000-000000000001", turn_secret = "turn-secret-0001-xxxxxxxxxxxxxxxxxxxxxxxx" } }
node_count   = 1
