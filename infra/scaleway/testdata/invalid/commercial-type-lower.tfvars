# want: node_commercial_type must be a Scaleway commercial type
node_commercial_type = "pro2-s"
