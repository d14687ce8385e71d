package evotorapi

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/evotor-partner/evotor-partner/generated/evotorrest"
	"github.com/evotor-partner/evotor-partner/impl/evotor"
)

// jsonUnmarshal is encoding/json's, named once: lenient by design (see Item).
func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// union is a generated union value (Decimal, NumberOrText, Time): raw JSON kept as received.
type union interface {
	evotorrest.Decimal | evotorrest.NumberOrText | evotorrest.Time
	MarshalJSON() ([]byte, error)
}

// Text is a union value as text: a number as Evotor wrote it (`80`, `100.123`), a string's
// content (`"80"` gives `80`). ok is false when the value is absent, null, or not a scalar.
func Text[U union](u *U) (text string, ok bool) {
	if u == nil {
		return "", false
	}
	raw, err := (*u).MarshalJSON()
	if err != nil || len(raw) == 0 {
		return "", false
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return s, true
	case 'n', '{', '[', 't', 'f':
		return "", false
	}
	return string(raw), true
}

// Number is a Decimal or NumberOrText as a float64 (a string of digits too). For sums kept
// exactly, use Text.
func Number[U evotorrest.Decimal | evotorrest.NumberOrText](u *U) (float64, bool) {
	var text string
	var ok bool
	switch v := any(u).(type) {
	case *evotorrest.Decimal:
		text, ok = Text(v)
	case *evotorrest.NumberOrText:
		text, ok = Text(v)
	}
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(text, 64)
	return f, err == nil
}

// Moment is a Time as a time.Time, in any form Evotor writes one (`2018-07-09T11:46:52.024+0000`,
// `…Z`, Unix milliseconds as a number or a string); read by impl/evotor, as the webhooks are.
func Moment(t *evotorrest.Time) (time.Time, bool) {
	text, ok := Text(t)
	if !ok {
		return time.Time{}, false
	}
	m, err := evotor.ParseMoment(text)
	return m, err == nil
}
