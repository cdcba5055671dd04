# want: node_secrets has no entry for meet-0004
node_count = 4
