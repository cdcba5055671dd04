datacenter = "dc1"
retry_join = ["172.16.0.2", "provider=scaleway tag_name=\"consul\""]
encrypt    = "pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s="
acl { tokens { agent = "3f6a2a8e-5b1c-4d7e-9f10-2a3b4c5d6e7f" } }
