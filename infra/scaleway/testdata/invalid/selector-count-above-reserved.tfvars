# want: selector_count must be a whole number from 2 to 8
selector_count = 9
