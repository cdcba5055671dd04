# want: node_count must be a whole number from 1 to 999
node_count = 0
