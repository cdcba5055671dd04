# want: region must be one of fr-par, nl-ams, pl-waw
region = "eu-west-1"
