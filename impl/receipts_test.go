package impl

import (
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// TestReceiptSpansAreTheElements: whatever the whitespace around and between them, the spans
// of an array body are exactly its elements' bytes, and a lone receipt is the whole body.
func TestReceiptSpansAreTheElements(t *testing.T) {
	space := rapid.StringOf(rapid.SampledFrom([]rune(" \t\r\n")))
	element := rapid.SampledFrom([]string{`{"id":"a"}`, `{ "id" : "b", "data" : { "items" : [ 1, 2 ] } }`, `{"s":"[ ] , \" ]"}`})
	rapid.Check(t, func(t *rapid.T) {
		elements := rapid.SliceOfN(element, 1, 5).Draw(t, "elements")
		var b strings.Builder
		b.WriteString(space.Draw(t, "lead") + "[")
		for i, el := range elements {
			if i > 0 {
				b.WriteString(space.Draw(t, "before comma") + ",")
			}
			b.WriteString(space.Draw(t, "before") + el + space.Draw(t, "after"))
		}
		b.WriteString("]" + space.Draw(t, "trail"))
		body := []byte(b.String())
		spans, err := receiptSpans(body)
		if err != nil || len(spans) != len(elements) {
			t.Fatalf("%q: %d spans, %v", body, len(spans), err)
		}
		for i, sp := range spans {
			if got := string(sp.of(body)); got != elements[i] {
				t.Fatalf("%q: element %d is %q, want %q", body, i, got, elements[i])
			}
		}
		lone := []byte(space.Draw(t, "lone lead") + elements[0] + space.Draw(t, "lone trail"))
		if spans, err := receiptSpans(lone); err != nil || len(spans) != 1 || string(spans[0].of(lone)) != string(lone) {
			t.Fatalf("lone receipt %q: %v %v", lone, spans, err)
		}
	})
}
