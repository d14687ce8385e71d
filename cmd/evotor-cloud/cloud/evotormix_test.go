package cloud

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/google/uuid"
	"pgregory.net/rapid"
)

// testMix is the evotor mix for users with stores, without a server (no setup sent).
func testMix(users, stores int) *evotorMix {
	m := &evotorMix{rand: rand.New(rand.NewPCG(1, 2)), shares: evotorShares(DefaultCatalogues), app: "Bearer app", ops: map[string]Operation{}, nextCode: 1}
	for _, op := range Operations {
		m.ops[op.ID] = op
	}
	for i := range users {
		u := &evotorUser{id: "01-00000000000000" + string(rune('1'+i)), auth: "Bearer user", subscription: uuid.NewString(), product: uuid.NewString(), seq: 1}
		for range stores {
			s := &evotorStore{uuid: uuid.NewString(), device: uuid.NewString(), employee: uuid.NewString(), group: uuid.NewString()}
			m.newProducts(s, evotorSetupStore)
			u.stores = append(u.stores, s)
		}
		m.users = append(m.users, u)
	}
	return m
}

// TestEvotorMixKeepsItsProportions: over many requests each kind comes as often as
// evotorProportions says, with the catalogues asked for (receipts making up the difference);
// every body is JSON for its operation; a re-send or a duplicate is an earlier request byte for
// byte; the stores grow.
func TestEvotorMixKeepsItsProportions(t *testing.T) {
	for _, catalogues := range []int{0, DefaultCatalogues, 10} {
		t.Run(fmt.Sprintf("%d catalogues in 1,000", catalogues), func(t *testing.T) { testEvotorMixProportions(t, catalogues) })
	}
}

func testEvotorMixProportions(t *testing.T, catalogues int) {
	m := testMix(5, 4)
	m.shares = evotorShares(catalogues)
	n := 20_000
	if catalogues != DefaultCatalogues {
		n = 5_000 // the shares' arithmetic; the default gets the long run
	}
	counts := map[string]int{}
	sent := map[string]string{} // body → operation
	before := 0
	for _, u := range m.users {
		for _, s := range u.stores {
			before += len(s.products)
		}
	}
	for i := range n {
		d := m.next(i)
		counts[d.kind]++
		if !json.Valid(d.body) {
			t.Fatalf("%s: not JSON: %.200s", d.kind, d.body)
		}
		wantApp := d.op.Credential == AppCredential
		if (d.auth == "Bearer app") != wantApp || d.auth == "" {
			t.Fatalf("%s (%s) sent with %q", d.kind, d.op.ID, d.auth)
		}
		switch d.kind {
		case "re-send", "duplicate":
			if op, ok := sent[string(d.body)]; !ok || op != d.op.ID {
				t.Fatalf("%s of a body never sent to %s", d.kind, d.op.ID)
			}
		case "catalogue":
			var items []json.RawMessage
			_ = json.Unmarshal(d.body, &items)
			if len(items) < evotorCatalogueMin || len(items) > evotorCatalogueMax {
				t.Fatalf("a catalogue of %d products", len(items))
			}
			fallthrough
		default:
			if _, seen := sent[string(d.body)]; seen {
				t.Fatalf("%s sent a body already sent", d.kind)
			}
			sent[string(d.body)] = d.op.ID
		}
	}
	for _, p := range evotorProportions {
		switch p.kind {
		case "catalogue":
			p.per1000 = catalogues
		case "receipt":
			p.per1000 -= catalogues - DefaultCatalogues
		}
		want := float64(p.per1000) / 1000 * float64(n)
		if p.kind == "catalogue" { // placed, not drawn: one in each run of 1,000/share
			if math.Abs(float64(counts[p.kind])-want) > 1 {
				t.Errorf("catalogues: %d in %d, want %.0f", counts[p.kind], n, want)
			}
			continue
		}
		if sd := math.Sqrt(want * (1 - float64(p.per1000)/1000)); math.Abs(float64(counts[p.kind])-want) > 4*sd+1 {
			t.Errorf("%s: %d in %d, want about %.0f", p.kind, counts[p.kind], n, want)
		}
	}
	after := 0
	for _, u := range m.users {
		for _, s := range u.stores {
			after += len(s.products)
		}
	}
	// a catalogue brings ~550 new products, 150 small batches in 1,000 ~90
	if grown := after - before; grown < n*catalogues/1000*400+n/100 {
		t.Errorf("the stores grew by %d products over %d requests", grown, n)
	}
}

// TestCataloguesComeEvenly: whatever the share and the draw, the first k requests hold their
// share of catalogues to within one, for every k (so every minute holds the same number, give
// or take two), each run of 1,000/share holding exactly one.
func TestCataloguesComeEvenly(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		per1000 := rapid.IntRange(1, maxCatalogues).Draw(t, "per1000")
		seed := rapid.Uint64().Draw(t, "seed")
		r := rand.New(rand.NewPCG(seed, seed>>1))
		var c catalogueSchedule
		count := 0
		for k := range 50 * 1000 / per1000 {
			if math.Abs(float64(count)-float64(k*per1000)/1000) > 1.1 {
				t.Fatalf("%d catalogues in the first %d requests at %d in 1,000", count, k, per1000)
			}
			if c.due(k, per1000, r) {
				count++
			}
		}
		if count != 50 {
			t.Fatalf("%d catalogues in 50 runs", count)
		}
	})
}

// TestEvotorMixResendsUnchangedProductsAlike: a product sent again unchanged is the same
// bytes, so that the server can skip it; changed, its price differs.
func TestEvotorMixResendsUnchangedProductsAlike(t *testing.T) {
	m := testMix(1, 1)
	s := m.users[0].stores[0]
	p := s.products[0]
	one := productJSON(nil, p.id.String(), p.code, p.kopecks, s.group)
	if again := productJSON(nil, p.id.String(), p.code, p.kopecks, s.group); !bytes.Equal(one, again) {
		t.Fatalf("the same product, other bytes:\n%s\n%s", one, again)
	}
	var product struct{ Price float64 }
	if err := json.Unmarshal(one, &product); err != nil || math.Abs(product.Price*100-float64(p.kopecks)) > 0.5 {
		t.Fatalf("price %v for %d kopecks (%v): %s", product.Price, p.kopecks, err, one)
	}
}

// TestEvotorUserIDsCountOn: the mix's users follow --user-id in Evotor's form.
func TestEvotorUserIDsCountOn(t *testing.T) {
	ids, err := evotorUserIDs("01-000000000000009", 3)
	if err != nil || len(ids) != 3 || ids[0] != "01-000000000000009" || ids[2] != "01-000000000000011" {
		t.Fatalf("%v %v", ids, err)
	}
	if _, err := evotorUserIDs("someone", 2); err == nil {
		t.Fatal("an ID not in Evotor's form was counted on")
	}
}
