package security

import (
	"bytes"
	"strconv"

	"github.com/evotor-partner/evotor-partner/impl/apperr"
)

// What a parser builds for a body grows with the number of its values and members, not its
// bytes: 16 MB of [0,0,…] are 8 million values (gigabytes as a tree), and an object of a
// million members costs hundreds of megabytes in the decoder's duplicate check and the tree.
// So before a body is parsed its shape is counted, in one pass over the bytes, and a body past
// these limits is refused (413) without being parsed. They are far above Evotor's payloads: a
// product or a receipt has tens of fields; a 10 MB catalogue is ~500,000 values, but it is
// parsed one product at a time.
const (
	// MaxValues is how many JSON values one parse may hold: the whole body when it is read as a
	// tree, each element when an array is read item by item.
	MaxValues = 400_000
	// MaxMembers is how many members one object may have.
	MaxMembers = 10_000
)

// checkShape refuses raw when a parse of it would hold more than MaxValues values (each
// element of the top-level array apart when perElement) or an object more than MaxMembers
// members.
func checkShape(raw []byte, perElement bool) *apperr.Error {
	values, members := measureShape(raw, perElement)
	switch {
	case members > MaxMembers:
		return apperr.Because(apperr.TooLarge, "body", "an object with more than "+strconv.Itoa(MaxMembers)+" members")
	case values > MaxValues:
		return apperr.Because(apperr.TooLarge, "body", "more than "+strconv.Itoa(MaxValues)+" JSON values")
	}
	return nil
}

// measureShape counts, in one pass over the bytes (valid JSON or not: the parser judges that),
// the values of the body (with perElement, of its top-level array's largest element) and the
// members of its widest object, from separators outside strings: each count is exact, or over
// by one for each empty array or object (and by two for a first element).
func measureShape(raw []byte, perElement bool) (values, members int) {
	var open [MaxBodyDepth + 2]int // members of the object open at each depth; -1: an array
	depth, n := 0, 1
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '"':
			i = stringEnd(raw, i+1)
		case '[', '{':
			n++
			depth++
			if depth > 0 && depth < len(open) {
				open[depth] = -1
				if raw[i] == '{' {
					open[depth] = 1
					members = max(members, 1)
				}
			}
		case ']', '}':
			depth--
		case ',':
			n++
			if perElement && depth == 1 {
				values, n = max(values, n-1), 1 // the next element, parsed alone
			}
			if depth > 0 && depth < len(open) && open[depth] >= 0 {
				open[depth]++
				members = max(members, open[depth])
			}
		}
	}
	return max(values, n), members
}

// stringEnd is the index of the quote that closes the string whose contents start at i (or the
// end of raw): the first quote not escaped, i.e. not after an odd number of backslashes.
func stringEnd(raw []byte, i int) int {
	for {
		q := bytes.IndexByte(raw[i:], '"')
		if q < 0 {
			return len(raw)
		}
		q += i
		backslashes := 0
		for j := q - 1; j >= i && raw[j] == '\\'; j-- {
			backslashes++
		}
		if backslashes%2 == 0 {
			return q
		}
		i = q + 1
	}
}
