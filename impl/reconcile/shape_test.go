package reconcile

import (
	"reflect"
	"slices"
	"testing"

	"github.com/evotor-partner/evotor-partner/impl/evotorapi"
	"github.com/evotor-partner/evotor-partner/impl/storage"
)

// keptColumns are the columns of row R a fetched record of kind k keeps from what is stored:
// those whose webhook member Evotor's API (type T) does not describe.
func keptColumns[R, T any](k kind) []string {
	described := describedMembers[T](k)
	var kept []string
	t := reflect.TypeFor[R]()
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Type.Kind() == reflect.Pointer && !bookkeeping(f.Name) && !described[columnMember(f.Name)] {
			kept = append(kept, f.Name)
		}
	}
	return kept
}

// TestOnlyWhatTheAPIDoesNotDescribeIsKept: the columns a fetched record keeps from the stored
// row are exactly those whose member openapi/evotor-rest.yaml gives no property (a column
// read under a name the mapping gets wrong would show up here as kept, and never be
// cleared); every other column follows Evotor, absent meaning cleared.
func TestOnlyWhatTheAPIDoesNotDescribeIsKept(t *testing.T) {
	for _, c := range []struct {
		name       string
		kept, want []string
	}{
		{"store", keptColumns[storage.StoreRow, evotorapi.Store](kindStore), []string{"Code"}},
		{"device", keptColumns[storage.DeviceRow, evotorapi.Device](kindDevice), []string{"Code"}},
		{"employee", keptColumns[storage.EmployeeRow, evotorapi.Employee](kindEmployee), nil},
		{"product", keptColumns[storage.ProductRow, evotorapi.Product](kindProduct), []string{"HasVariants"}},
	} {
		if !slices.Equal(c.kept, c.want) {
			t.Errorf("%s keeps %v, want %v", c.name, c.kept, c.want)
		}
	}
	// A group's API record names its name, parent and barcodes; a product's price and the like
	// are no group's.
	kept := keptColumns[storage.ProductRow, evotorapi.ProductGroup](kindGroup)
	for _, col := range []string{"ParentUUID", "BarCodes"} {
		if slices.Contains(kept, col) {
			t.Errorf("a group keeps its %s from the webhook: %v", col, kept)
		}
	}
}

// TestAClearedMemberClearsTheColumn: a product Evotor now lists without its article number
// (and with a store's code the API never carries) is a change that clears the one and keeps
// the other.
func TestAClearedMemberClearsTheColumn(t *testing.T) {
	article, code, variants := "A-1", "7", true
	stored := storage.ProductRow{UUID: "p", Name: "Сидр", ArticleNumber: &article, Code: &code, HasVariants: &variants}
	fetched := storage.ProductRow{UUID: "p", Name: "Сидр", Code: &code}
	f := fieldsOf(&fetched)
	f.fillFrom(fieldsOf(&stored), describedMembers[evotorapi.Product](kindProduct))
	if fetched.ArticleNumber != nil || fetched.HasVariants == nil || !*fetched.HasVariants {
		t.Fatalf("after fillFrom: article %v, hasVariants %v", fetched.ArticleNumber, fetched.HasVariants)
	}
	if f.sameAs(fieldsOf(&stored)) {
		t.Fatal("a cleared article number is no change")
	}
}
