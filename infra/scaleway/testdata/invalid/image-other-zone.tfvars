# want: images must live in zone fr-par-2
images = {
  base  = "fr-par-2/aaaaaaaa-0000-4000-8000-000000000001"
  jitsi = "fr-par-1/aaaaaaaa-0000-4000-8000-000000000002"
}
