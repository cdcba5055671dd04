# want: certificate_mode = provided needs tls_certificate and tls_private_key
tls_private_key = null
