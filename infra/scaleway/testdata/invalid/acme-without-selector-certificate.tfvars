# want: certificate_mode = acme needs tls_certificate and tls_private_key
certificate_mode = "acme"
tls_certificate  = null
tls_private_key  = null
