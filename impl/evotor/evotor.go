// Package evotor holds Evotor's own formats: its ids, opaque strings compared as keys, and its
// times, written in more forms than RFC 3339 admits. The validator, the application and the
// storage adapters all read them here.
package evotor

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// Layouts Evotor sends times in; fractional seconds are optional in both when parsing.
var evotorTimeLayouts = []string{time.RFC3339, "2006-01-02T15:04:05Z0700"}

// IsUUID reports whether s is an id in Evotor's 8-4-4-4-12 hex shape (any case). Every
// id of every delivery passes here, so it is a loop, not a regular expression.
func IsUUID(s string) bool {
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
	if IsUUID(id) {
		return strings.ToLower(id)
	}
	return id
}

// ParseTime parses a time as Evotor sends it: 2017-01-10T09:33:19.757+0000,
// 2019-10-28T21:14:12.174Z or 2017-06-07T12:55:18+03:00.
func ParseTime(s string) (time.Time, error) {
	for _, layout := range evotorTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("not an Evotor time")
}

// ParseMoment parses a moment in any form Evotor writes one: a time ParseEvotorTime
// reads, or Unix milliseconds as a number's text (1496840118000, 1.496840118e12) or a string
// of digits. Every form of the same moment gives the same time.
func ParseMoment(s string) (time.Time, error) {
	if t, err := ParseTime(s); err == nil {
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
