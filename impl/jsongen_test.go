package impl

import (
	"fmt"
	"strings"
	"unicode/utf16"

	"github.com/google/uuid"
	"pgregory.net/rapid"
)

// Generators of the JSON Evotor sends, for the property tests that hold the values read from
// the validator's tree to those binding gives.

// jsonString writes s as a JSON string, each character escaped as \uXXXX or not, at random.
func jsonString(t *rapid.T, s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case rapid.Bool().Draw(t, "escape"):
			for _, u := range utf16.Encode([]rune{r}) {
				fmt.Fprintf(&b, `\u%04x`, u)
			}
		case r == '"' || r == '\\':
			b.WriteString(`\` + string(r))
		case r < 0x20:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// evotorID is an id of any shape real traffic carries.
var evotorID = rapid.OneOf(
	rapid.Custom(func(t *rapid.T) string {
		u := uuid.NewString()
		return map[bool]string{true: strings.ToUpper(u), false: u}[rapid.Bool().Draw(t, "upper")]
	}),
	rapid.SampledFrom([]string{"2529", "02-000000000000001", "20170928-3176-40EB-80E2-A11F032E282A", "Ёлка \"№1\"", `a\b`, "😀"}),
	rapid.StringN(1, 12, -1).Filter(func(s string) bool { return !strings.ContainsRune(s, 0) }), // no column holds NUL
)

// jsonID is an id written as a JSON string, escaped at random.
func jsonID(t *rapid.T, label string) string { return jsonString(t, evotorID.Draw(t, label)) }

// jsonMember is a member written ("name":value,) or left out; an optional one may be null.
func jsonMember(t *rapid.T, name, value string, optional bool) string {
	if optional {
		switch rapid.IntRange(0, 2).Draw(t, name+" presence") {
		case 0:
			return ""
		case 1:
			return `"` + name + `":null,`
		}
	}
	return `"` + name + `":` + value + ","
}

// jsonDecimal is an amount as Evotor writes one: a number, or a number's text.
func jsonDecimal(t *rapid.T, label string) string {
	n := rapid.SampledFrom([]string{"0", "-1", "123.12", "0.000", "984.96", "1e3", "-2.5E-2", "12345678901234567890.5"}).Draw(t, label)
	if rapid.Bool().Draw(t, label+" as string") && !strings.ContainsAny(n, "eE") {
		return jsonString(t, n)
	}
	return n
}

// jsonObject closes a run of members written by jsonMember.
func jsonObject(members string) string { return "{" + strings.TrimSuffix(members, ",") + "}" }
