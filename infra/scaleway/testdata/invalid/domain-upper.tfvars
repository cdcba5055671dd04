# want: domain must be a lower-case DNS name
domain = "Example.ORG"
