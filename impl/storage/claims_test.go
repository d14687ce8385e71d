package storage

import (
	"errors"
	"strconv"
	"testing"

	"gorm.io/gorm"
	"pgregory.net/rapid"
)

// claim runs ClaimStores in a transaction of its own (committed unless it fails) and counts
// the statements it ran.
func claim(t interface{ Fatalf(string, ...any) }, st *Store, owner string, stores ...string) (error, int) {
	statements := 0
	counted := st.db.Session(&gorm.Session{NewDB: true})
	for _, cb := range []interface {
		Register(string, func(*gorm.DB)) error
	}{counted.Callback().Query().After("gorm:query"), counted.Callback().Create().After("gorm:create")} {
		if err := cb.Register("test:count", func(*gorm.DB) { statements++ }); err != nil {
			t.Fatalf("%v", err)
		}
	}
	defer func() {
		_ = counted.Callback().Query().Remove("test:count")
		_ = counted.Callback().Create().Remove("test:count")
	}()
	var err error
	txErr := counted.Transaction(func(db *gorm.DB) error {
		err = (&Tx{db: db, store: st}).ClaimStores(owner, stores...)
		return err
	})
	if err == nil && txErr != nil {
		t.Fatalf("commit: %v", txErr)
	}
	return err, statements
}

// TestAStoreBelongsToItsFirstClaimant: whatever the order of claims, a store is its first
// claimant's; a claim naming another's store is refused and claims nothing; a claim of stores
// all claimed before by the same owner costs one statement.
func TestAStoreBelongsToItsFirstClaimant(t *testing.T) {
	st := openSQLiteStore(t)
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
			err, statements := claim(rt, st, who, keys...)
			if wantErr != errors.Is(err, ErrNotOwner) || (err != nil && !errors.Is(err, ErrNotOwner)) {
				rt.Fatalf("%s claims %v (owners %v): %v", who, named, owner, err)
			}
			if !wantErr {
				for _, s := range named {
					owner[s] = who
				}
				if allOwn && statements != 1 {
					rt.Fatalf("%s claims %v, all hers already: %d statements, want 1", who, named, statements)
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
