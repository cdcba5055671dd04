# want: zone nl-ams-1 is not in region fr-par
zone = "nl-ams-1"
