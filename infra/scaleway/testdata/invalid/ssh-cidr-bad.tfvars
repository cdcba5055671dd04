# want: ssh_allowed_cidrs must hold at least one IPv4 CIDR
ssh_allowed_cidrs = ["anywhere"]
