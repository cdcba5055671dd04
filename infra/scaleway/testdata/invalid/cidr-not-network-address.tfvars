# want: private_network_cidr must be a private IPv4 network
private_network_cidr = "172.16.0.5/22"
