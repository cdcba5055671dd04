# want: certificate_mode must be provided or acme
certificate_mode = "selfsigned"
