# want: images.base and images.jitsi must be image IDs
images = { base = "debian_bookworm", jitsi = "fr-par-2/aaaaaaaa-0000-4000-8000-000000000002" }
