# want: ssh_public_keys must hold at least one OpenSSH public key
ssh_public_keys = []
