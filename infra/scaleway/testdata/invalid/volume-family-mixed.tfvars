# want: node_commercial_type = PRO2-S (sbs_volume)
node_commercial_type = "PRO2-S"
