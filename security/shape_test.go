package security

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// jsonValue draws a JSON value: scalars (strings full of quotes, backslashes and brackets),
// arrays and objects, nested up to depth.
func jsonValue(t *rapid.T, depth int) any {
	kind := rapid.IntRange(0, 5).Draw(t, "kind")
	if depth == 0 {
		kind %= 3
	}
	switch kind {
	case 0:
		return rapid.StringOfN(rapid.SampledFrom([]rune(`a"\,:[]{}ё `)), 0, 8, -1).Draw(t, "string")
	case 1:
		return rapid.IntRange(-5, 5).Draw(t, "number")
	case 2:
		return nil
	case 3, 4:
		items := make([]any, rapid.IntRange(0, 4).Draw(t, "items"))
		for i := range items {
			items[i] = jsonValue(t, depth-1)
		}
		return items
	}
	members := map[string]any{}
	for i := range rapid.IntRange(0, 4).Draw(t, "members") {
		members[fmt.Sprintf(`k"%d\,`, i)] = jsonValue(t, depth-1)
	}
	return members
}

// shapeOf counts a decoded value's values, its containers, and its widest object's members.
func shapeOf(v any) (values, containers, members int) {
	values = 1
	var children []any
	switch v := v.(type) {
	case []any:
		containers, children = 1, v
	case map[string]any:
		containers, members = 1, len(v)
		for _, c := range v {
			children = append(children, c)
		}
	}
	for _, c := range children {
		cv, cc, cm := shapeOf(c)
		values, containers, members = values+cv, containers+cc, max(members, cm)
	}
	return values, containers, members
}

// TestMeasureShapeCountsWhatAParserBuilds: the one-pass count of values and members is never
// under what a parser builds (so no body slips past the limits), and over it by at most one per
// empty container (and two for a first element).
func TestMeasureShapeCountsWhatAParserBuilds(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		v := jsonValue(t, 4)
		raw, _ := json.Marshal(v)
		if rapid.Bool().Draw(t, "spaced") { // white space anywhere outside strings changes nothing
			raw = []byte(strings.NewReplacer(",", " ,\n", ":", ": ").Replace(string(raw)))
			var check any
			if json.Unmarshal(raw, &check) != nil {
				raw, _ = json.Marshal(v) // the replacer hit a string: keep it compact
			}
		}
		values, containers, members := shapeOf(v)
		gotValues, gotMembers := measureShape(raw, false)
		if gotValues < values || gotValues > values+containers || gotMembers < members || gotMembers > members+1 {
			t.Fatalf("%s: counted %d values, %d members; it has %d values (%d containers), %d members",
				raw, gotValues, gotMembers, values, containers, members)
		}
		items, isArray := v.([]any)
		if !isArray {
			return
		}
		widest := 0
		for _, it := range items {
			iv, ic, _ := shapeOf(it)
			widest = max(widest, iv)
			_ = ic
		}
		if perElement, _ := measureShape(raw, true); perElement < widest || perElement > values+containers {
			t.Fatalf("%s: counted %d values per element; the largest has %d", raw, perElement, widest)
		}
	})
}

// TestShapesPastTheLimitsAreRefusedUnparsed: a body of more values or wider objects than a
// parse may hold is refused as too large (413), read as a tree or item by item; a catalogue
// of many small items is not (each item is parsed alone).
func TestShapesPastTheLimitsAreRefusedUnparsed(t *testing.T) {
	zeros := "[" + strings.Repeat("0,", MaxValues) + "0]"
	wide := "{" + strings.Repeat(`"k":0,`, MaxMembers) + `"k":0}`
	items := "[" + strings.Repeat(`{"uuid":"a","n":[1,2]},`, MaxValues/3) + `{}]`
	for _, c := range []struct {
		body       string
		perElement bool
		refused    bool
	}{
		{zeros, false, true}, {zeros, true, false}, {"[" + zeros + "]", true, true},
		{wide, false, true}, {"[" + wide + "]", true, true},
		{items, false, true}, {items, true, false},
	} {
		err := checkShape([]byte(c.body), c.perElement)
		if (err != nil) != c.refused || (err != nil && Status(err.Kind) != 413) {
			t.Errorf("%.30s… (per element %v): %v, want refused %v with 413", c.body, c.perElement, err, c.refused)
		}
	}
}
