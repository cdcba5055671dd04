# want: zone must be an availability zone
zone = "us-east-1"
