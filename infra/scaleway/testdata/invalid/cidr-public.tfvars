# want: private_network_cidr must be a private IPv4 network
private_network_cidr = "51.15.0.0/22"
