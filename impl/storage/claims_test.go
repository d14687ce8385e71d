package storage

import (
	"errors"
	"strconv"
	"testing"

	"gorm.io/gorm"
	"pgregory.net/rapid"
)

// countStatements counts the queries and inserts run through st's GORM (its callbacks are the
// store's own, whatever session runs them) until the test ends.
func countStatements(t *testing.T, st *Store) *int {
	n := new(int)
	query, create := st.db.Callback().Query(), st.db.Callback().Create()
	if err := query.After("gorm:query").Register("test:count", func(*gorm.DB) { *n++ }); err != nil {
		t.Fatal(err)
	}
	if err := create.After("gorm:create").Register("test:count", func(*gorm.DB) { *n++ }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = query.Remove("test:count"); _ = create.Remove("test:count") })
	return n
}

// claim runs ClaimStores in a transaction of its own, committed unless it fails: its error, or
// the commit's.
func claim(st *Store, owner string, stores ...string) error {
	return st.db.Transaction(func(db *gorm.DB) error {
		return (&Tx{db: db, store: st}).ClaimStores(owner, stores...)
	})
}

// TestAStoreBelongsToItsFirstClaimant: whatever the order of claims, a store is its first
// claimant's; a claim naming another's store is refused and claims nothing; a claim of stores
// all claimed before by the same owner costs one statement.
func TestAStoreBelongsToItsFirstClaimant(t *testing.T) {
	st := openSQLiteStore(t)
	statements := countStatements(t, st)
	owners, stores := []string{"alice", "bob"}, []string{"s1", "s2", "s3", "s4"}
	run := 0
	rapid.Check(t, func(rt *rapid.T) {
		run++
		prefix := strconv.Itoa(run) + "-" // each run its own stores
		owner := map[string]string{}      // the model: store → its owner
		for range rapid.IntRange(1, 12).Draw(rt, "claims") {
			who := rapid.SampledFrom(owners).Draw(rt, "owner")
			named := rapid.SliceOfNDistinct(rapid.SampledFrom(stores), 1, 3, rapid.ID).Draw(rt, "stores")
			keys := make([]string, len(named))
			wantErr, allOwn := false, true
			for i, s := range named {
				keys[i] = prefix + s
				if o, ok := owner[s]; ok && o != who {
					wantErr = true
				} else if !ok {
					allOwn = false
				}
			}
			before := *statements
			err := claim(st, who, keys...)
			if wantErr != errors.Is(err, ErrNotOwner) || (err != nil && !errors.Is(err, ErrNotOwner)) {
				rt.Fatalf("%s claims %v (owners %v): %v", who, named, owner, err)
			}
			if !wantErr {
				for _, s := range named {
					owner[s] = who
				}
				if ran := *statements - before; allOwn && ran != 1 {
					rt.Fatalf("%s claims %v, all hers already: %d statements, want 1", who, named, ran)
				}
			}
		}
		for _, s := range stores {
			var rows []StoreRow
			if err := st.db.Where("uuid = ?", prefix+s).Find(&rows).Error; err != nil {
				rt.Fatalf("%v", err)
			}
			if o, ok := owner[s]; ok != (len(rows) == 1) || ok && rows[0].OwnerID != o {
				rt.Fatalf("store %s stored as %+v, the model says %q", s, rows, o)
			}
		}
	})
}
