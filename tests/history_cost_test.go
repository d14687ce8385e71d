package tests

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// costRatio times small and big, interleaved rounds times each (so the machine's other load
// falls on both alike), and returns the ratio of their medians, big ÷ small.
func costRatio(t *testing.T, rounds int, small, big func(round int)) float64 {
	t.Helper()
	var s, b []time.Duration
	for i := range rounds {
		start := time.Now()
		small(i)
		s = append(s, time.Since(start))
		start = time.Now()
		big(i)
		b = append(b, time.Since(start))
	}
	slices.Sort(s)
	slices.Sort(b)
	ratio := float64(b[rounds/2]) / float64(s[rounds/2])
	t.Logf("median %s into the empty side, %s into the full one: %.2f×", s[rounds/2], b[rounds/2], ratio)
	return ratio
}

// TestAProductsNotificationCostsItsOwnItems: Evotor sends a few products whenever a merchant
// edits them; such a notification costs the same into a store of 25,000 products as into one
// of 5 (it used to read every product's hash of the store: 42× on SQLite).
func TestAProductsNotificationCostsItsOwnItems(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a store of 25,000 products")
	}
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		token := bearer(e.createUser("01-000000000000001"))
		const small, big = "20991231-0000-4000-8000-000000000005", "20991231-0000-4000-8000-000025000000"
		createProducts := opByID(t, "createProducts")
		send := func(store string, body []byte) {
			if status, resp := e.sendTo(createProducts, store, body, token); status != 200 {
				t.Fatalf("%d %s", status, resp)
			}
		}
		for first := 0; first < 25_000; first += 5_000 {
			send(big, products(first, 5_000, "1"))
		}
		send(small, products(0, 5, "1"))
		// Each round changes the price of the same 5 products of each store.
		edit := func(store string) func(int) {
			return func(round int) { send(store, products(100, 5, fmt.Sprint(round+2))) }
		}
		if ratio := costRatio(t, 40, edit(small), edit(big)); ratio > 2 {
			t.Fatalf("5 products into a store of 25,000 cost %.1f× what they cost into a store of 5", ratio)
		}
	})
}
