package placement

// hashString is 64-bit FNV-1a, written out so that hashing a room name on the hot path does not
// allocate (hash/fnv needs a []byte).
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// mix is splitmix64's finaliser. FNV alone is too weak for rendezvous hashing: names that differ
// in one trailing character would rank nodes almost the same way.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
