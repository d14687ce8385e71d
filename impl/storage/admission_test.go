package storage_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/evotor-partner/evotor-partner/impl/apperr"
	"github.com/evotor-partner/evotor-partner/impl/storage"
	"github.com/evotor-partner/evotor-partner/impl/storage/storagetest"
	"github.com/evotor-partner/evotor-partner/impl/usertoken"
)

// TestAdmissionJudgesTheTokenThenTheStores: whatever the token's state and whoever owns the
// stores named, Admit answers as ConfirmToken then ClaimStores would (on PostgreSQL it reads
// both in one statement): a token unknown or revoked is 1002, one superseded at or before the
// cutoff 1003, whatever the stores; then a store of another owner is ErrNotOwner; and only an
// admitted delivery claims its new stores.
func TestAdmissionJudgesTheTokenThenTheStores(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, b storagetest.Backend) {
		o := b.Open(t)
		st := o.Store
		superseded := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		tokens := map[string]*usertoken.Check{"none": nil} // a token state → the check a delivery makes
		refusals := map[string]apperr.Kind{}               // … and how it is refused (0: it is not)
		for _, owner := range []string{"alice", "bob"} {
			valid, revoked, old := userToken(t, st, owner+"-valid"), userToken(t, st, owner+"-revoked"), userToken(t, st, owner+"-old")
			if err := o.DB.Exec("UPDATE user_tokens SET revoked_at = CURRENT_TIMESTAMP WHERE id = ?", revoked.ID).Error; err != nil {
				t.Fatal(err)
			}
			if err := o.DB.Exec("UPDATE user_tokens SET superseded_at = ? WHERE id = ?", superseded, old.ID).Error; err != nil {
				t.Fatal(err)
			}
			tokens[owner+" valid"], refusals[owner+" valid"] = &usertoken.Check{ID: valid.ID}, 0
			tokens[owner+" revoked"], refusals[owner+" revoked"] = &usertoken.Check{ID: revoked.ID}, apperr.BadUserToken
			tokens[owner+" expired"], refusals[owner+" expired"] = &usertoken.Check{ID: old.ID, Cutoff: superseded}, apperr.ExpiredUserToken
			tokens[owner+" in grace"], refusals[owner+" in grace"] = &usertoken.Check{ID: old.ID, Cutoff: superseded.Add(-time.Minute)}, 0
		}
		tokens["unknown"], refusals["unknown"] = &usertoken.Check{ID: 1 << 40}, apperr.BadUserToken
		states := make([]string, 0, len(tokens))
		for s := range tokens {
			states = append(states, s)
		}
		run := 0
		rapid.Check(t, func(rt *rapid.T) {
			run++
			prefix := strconv.Itoa(run) + "-"
			owner := map[string]string{} // the model: store → its owner
			for range rapid.IntRange(1, 10).Draw(rt, "deliveries") {
				who := rapid.SampledFrom([]string{"alice", "bob"}).Draw(rt, "owner")
				state := rapid.SampledFrom(states).Draw(rt, "token")
				named := rapid.SliceOfNDistinct(rapid.SampledFrom([]string{"s1", "s2", "s3"}), 0, 3, rapid.ID).Draw(rt, "stores")
				keys := make([]string, len(named))
				wantNotOwner := false
				for i, s := range named {
					keys[i] = prefix + s
					if o, ok := owner[s]; ok && o != who {
						wantNotOwner = true
					}
				}
				err := st.Accept(ctx, storage.InboxEntry{Operation: "admission", EvotorUserID: &who, PathParams: "{}", Body: []byte("{}")}, func(tx *storage.Tx) error {
					return tx.Admit(tokens[state], who, keys...)
				})
				switch want := refusals[state]; {
				case want != 0:
					if !errors.Is(err, apperr.New(want, "")) {
						rt.Fatalf("%s, token %s, stores %v: %v; want %v", who, state, named, err, want)
					}
				case wantNotOwner:
					if !errors.Is(err, storage.ErrNotOwner) {
						rt.Fatalf("%s, token %s, stores %v (owners %v): %v; want ErrNotOwner", who, state, named, owner, err)
					}
				case err != nil:
					rt.Fatalf("%s, token %s, stores %v (owners %v): %v", who, state, named, owner, err)
				default:
					for _, s := range named {
						owner[s] = who
					}
				}
			}
			for _, s := range []string{"s1", "s2", "s3"} {
				var owners []string
				if err := o.DB.Table("stores").Where("uuid = ?", prefix+s).Pluck("owner_id", &owners).Error; err != nil {
					rt.Fatal(err)
				}
				if want, ok := owner[s]; ok != (len(owners) == 1) || ok && owners[0] != want {
					rt.Fatalf("store %s stored with owners %v, the model says %q", s, owners, want)
				}
			}
		})
	})
}
