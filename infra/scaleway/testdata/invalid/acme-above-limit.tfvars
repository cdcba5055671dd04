# want: certificate_mode = acme allows at most 40 nodes
certificate_mode = "acme"
node_count       = 41
