package blob

// LFSKey is the key of the LFS object with the given SHA-256 oid:
// "lfs/ab/cd/abcd…". The two levels of fan-out keep directories small on
// local disk. Callers validate oid with ValidOID first.
func LFSKey(oid string) string {
	if len(oid) < 4 {
		return "lfs/" + oid
	}
	return "lfs/" + oid[0:2] + "/" + oid[2:4] + "/" + oid
}

// ValidOID reports whether oid is a SHA-256 in the form LFS uses: 64
// lower-case hex digits.
func ValidOID(oid string) bool {
	if len(oid) != 64 {
		return false
	}
	for i := 0; i < len(oid); i++ {
		c := oid[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
