package security

import (
	"github.com/getkin/kin-openapi/openapi3"

	"github.com/evotor-partner/evotor-partner/impl/evotor"
)

// FormatEvotorTime is the spec's format for Evotor's times, which carry "+0000" offsets that
// RFC 3339 rejects; impl/evotor defines what it admits. (Ids are opaque: no format checks them.)
const FormatEvotorTime = "evotor-time"

// RegisterFormats teaches doc's schemas the spec's own format; the validator does it, and so
// may a test that validates the spec's examples.
func RegisterFormats(doc *openapi3.T) {
	doc.SetStringFormatValidator(FormatEvotorTime, openapi3.NewCallbackValidator(func(s string) error {
		_, err := evotor.ParseTime(s)
		return err
	}))
}
