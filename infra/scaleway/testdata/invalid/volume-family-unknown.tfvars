# want: these do not: selector_commercial_type = XYZ9-S (unknown family)
selector_commercial_type = "XYZ9-S"
