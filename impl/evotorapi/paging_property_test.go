package evotorapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"pgregory.net/rapid"
)

// Paging yields every object exactly once, in Evotor's order, whatever the page sizes (empty
// pages too), whatever characters the cursors hold (they travel URL-encoded and come back
// intact), and with one request per page.
func TestPagingYieldsEveryItemExactlyOnce(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		total := rapid.IntRange(0, 60).Draw(rt, "items")
		// pages: sizes summing to total, empty pages allowed anywhere
		var sizes []int
		for left := total; left > 0 || len(sizes) == 0; {
			n := rapid.IntRange(0, min(left, 9)).Draw(rt, "page size")
			sizes = append(sizes, n)
			left -= n
			if len(sizes) > 40 { // bound the empty pages
				sizes = append(sizes, left)
				break
			}
		}
		cursors := make([]string, len(sizes)) // cursors[i] leads to page i; the first has none
		used := map[string]bool{}
		for i := 1; i < len(sizes); i++ {
			c := rapid.StringMatching(`[A-Za-z0-9+/=&?%# ,;:\-_.~]{1,24}|[а-я]{1,5}`).Draw(rt, "cursor")
			if used[c] {
				c += "#" + strconv.Itoa(i)
			}
			used[c] = true
			cursors[i] = c
		}

		var bad []string
		stub := newStub(t, func(n int, r seen, w http.ResponseWriter) {
			if n >= len(sizes) {
				bad = append(bad, "a request past the last page")
				answerJSON(w, 500, ``)
				return
			}
			if got := r.Query.Get("cursor"); got != cursors[n] || (n == 0) == r.Query.Has("cursor") {
				bad = append(bad, "page "+strconv.Itoa(n)+" asked with cursor "+strconv.Quote(got)+", want "+strconv.Quote(cursors[n]))
			}
			first := 0
			for _, s := range sizes[:n] {
				first += s
			}
			items := make([]map[string]any, 0, sizes[n])
			for i := first; i < first+sizes[n]; i++ {
				items = append(items, map[string]any{"id": "item-" + strconv.Itoa(i), "name": strconv.Itoa(i)})
			}
			paging := map[string]any{}
			if n+1 < len(sizes) {
				paging["next_cursor"] = cursors[n+1]
			}
			b, _ := json.Marshal(map[string]any{"items": items, "paging": paging})
			answerJSON(w, 200, string(b))
		})
		defer stub.srv.Close()
		c, _ := newTestClient(t, stub.srv.URL, Config{})

		got, err := collect(c.Session(NewCloudToken(testToken)).ProductGroups(context.Background(), "store"))
		if err != nil {
			rt.Fatalf("paging failed: %v", err)
		}
		for _, b := range bad {
			rt.Error(b)
		}
		if len(got) != total {
			rt.Fatalf("%d items, want %d", len(got), total)
		}
		for i, it := range got {
			if it.ID != "item-"+strconv.Itoa(i) || it.Value.Name == nil || *it.Value.Name != strconv.Itoa(i) {
				rt.Fatalf("item %d is %q", i, it.ID)
			}
		}
		if n := len(stub.requests()); n != len(sizes) {
			rt.Fatalf("%d requests for %d pages", n, len(sizes))
		}
	})
}

// readPage never panics, and whatever it accepts, it accepts as objects.
func TestReadPageTakesAnyBytes(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		body := rapid.OneOf(
			rapid.SliceOf(rapid.Byte()),
			rapid.Map(rapid.StringMatching(`\{"items":\[(\{"id":"[a-z]{0,3}"\},?){0,3}\],"paging":\{("next_cursor":(null|"[a-z]*"))?\}\}`), func(s string) []byte { return []byte(s) }),
		).Draw(rt, "body")
		p, err := readPage(body)
		if err != nil {
			return
		}
		for _, it := range p.items {
			if len(it) == 0 || it[0] != '{' {
				rt.Fatalf("item %q is not an object", it)
			}
		}
	})
}
