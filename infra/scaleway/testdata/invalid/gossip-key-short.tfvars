# want: consul_gossip_key must be the output of consul keygen
consul_gossip_key = "c2hvcnQ="
