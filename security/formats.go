package security

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
)

// Evotor's ids are opaque strings (the spec's EvotorId): real traffic carries date-shaped uuids
// (20170222-d58c-40e0-8051-b53adff38860, any case), numbers in strings and serial numbers, so
// no id is format-checked. Its times carry "+0000" offsets that RFC 3339 rejects: the spec's
// format evotor-time is defined here, the only definition of both rules.
const FormatEvotorTime = "evotor-time"

// Layouts Evotor sends times in; fractional seconds are optional in both when parsing.
var evotorTimeLayouts = []string{time.RFC3339, "2006-01-02T15:04:05Z0700"}

// IsEvotorUUID reports whether s is an id in Evotor's 8-4-4-4-12 hex shape (any case). Every
// id of every delivery passes here, so it is a loop, not a regular expression.
func IsEvotorUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// CanonicalID is an Evotor id as a key: a uuid-shaped id in lower case (Evotor writes the same
// uuid in either case), any other id byte for byte.
func CanonicalID(id string) string {
	if IsEvotorUUID(id) {
		return strings.ToLower(id)
	}
	return id
}

// ParseEvotorTime parses a time as Evotor sends it: 2017-01-10T09:33:19.757+0000,
// 2019-10-28T21:14:12.174Z or 2017-06-07T12:55:18+03:00.
func ParseEvotorTime(s string) (time.Time, error) {
	for _, layout := range evotorTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("not an Evotor time")
}

// ParseEvotorMoment parses a moment in any form Evotor writes one: a time ParseEvotorTime
// reads, or Unix milliseconds as a number's text (1496840118000, 1.496840118e12) or a string
// of digits. Every form of the same moment gives the same time.
func ParseEvotorMoment(s string) (time.Time, error) {
	if t, err := ParseEvotorTime(s); err == nil {
		return t, nil
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<62 {
		return time.UnixMilli(int64(f)), nil
	}
	return time.Time{}, errors.New("not an Evotor time or Unix milliseconds")
}

// RegisterFormats teaches doc's schemas the spec's own format; the validator does it, and so
// may a test that validates the spec's examples.
func RegisterFormats(doc *openapi3.T) {
	doc.SetStringFormatValidator(FormatEvotorTime, openapi3.NewCallbackValidator(func(s string) error {
		_, err := ParseEvotorTime(s)
		return err
	}))
}
