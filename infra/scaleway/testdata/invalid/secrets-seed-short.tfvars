# want: secrets_seed must be at least 32 characters
secrets_seed = "short"
