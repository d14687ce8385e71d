package restsim

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/evotor-partner/evotor-partner/generated/evotorrest"
	"github.com/evotor-partner/evotor-partner/impl/evotorapi"
)

func decimal(t *testing.T, s string) *evotorrest.Decimal {
	t.Helper()
	var d evotorrest.Decimal
	must(t, d.FromDecimal1(s))
	return &d
}

func TestProductWritesAsTheContractSays(t *testing.T) {
	s, api := withUser1(t, Config{PageSize: 3})
	m := s.srv.Model()
	ctx := context.Background()
	store := storeID(2) // a store with no catalogue yet
	name, typ := "Квас", "NORMAL"

	created, err := api.CreateProduct(ctx, store, evotorapi.Product{Name: &name, Type: &typ, Price: decimal(t, "55.50")})
	if err != nil || created.ID == "" || *created.Value.StoreId != store || *created.Value.UserId != user1 || created.Value.CreatedAt == nil {
		t.Fatalf("create: %s, %v", created.Raw, err)
	}
	got, err := api.Product(ctx, store, created.ID)
	if err != nil || string(got.Raw) != string(created.Raw) {
		t.Fatalf("read back: %s, %v", got.Raw, err)
	}

	renamed := "Квас хлебный"
	replaced, err := api.ReplaceProduct(ctx, store, "my-own-id", evotorapi.Product{Name: &renamed, Price: decimal(t, "60")})
	if err != nil || replaced.ID != "my-own-id" {
		t.Fatalf("replace (create with the caller's id): %s, %v", replaced.Raw, err)
	}
	patched, err := api.UpdateProduct(ctx, store, "my-own-id", evotorapi.ProductPatch{Quantity: decimal(t, "7.5")})
	if q, _ := evotorapi.Text(patched.Value.Quantity); err != nil || q != "7.5" || *patched.Value.Name != renamed {
		t.Fatalf("patch: %s, %v", patched.Raw, err)
	}
	if _, err := api.UpdateProduct(ctx, store, "my-own-id", evotorapi.ProductPatch{}); !errors.Is(err, evotorapi.ErrBadRequest) {
		t.Fatalf("an empty patch: %v", err)
	}
	if _, err := api.UpdateProduct(ctx, store, "nope", evotorapi.ProductPatch{Price: decimal(t, "1")}); !errors.Is(err, evotorapi.ErrNotFound) {
		t.Fatalf("a patch of nothing: %v", err)
	}
	_, err = api.CreateProduct(ctx, store, evotorapi.Product{Type: &typ})
	var apiErr *evotorapi.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 400 || len(apiErr.Violations) != 1 || apiErr.Violations[0].Subject != "name" {
		t.Fatalf("a product without a name: %v", err)
	}
	if _, err := api.CreateProduct(ctx, "nope", evotorapi.Product{Name: &name}); !errors.Is(err, evotorapi.ErrNotFound) {
		t.Fatalf("into an unknown store: %v", err)
	}

	// bulk: a task, done at once
	task, err := api.CreateProducts(ctx, store, []evotorapi.Product{{Name: &name}, {Name: &renamed}, {Type: &typ}})
	if err != nil || task.ID == "" || *task.Value.Status != "ACCEPTED" {
		t.Fatalf("bulk create: %s, %v", task.Raw, err)
	}
	done, err := api.Bulk(ctx, task.ID)
	if err != nil || *done.Value.Status != "FAILED" || len(*done.Value.Details) != 1 {
		t.Fatalf("the bulk task: %s, %v", done.Raw, err)
	}
	one, two := "bulk-1", "bulk-2"
	task, err = api.ReplaceProducts(ctx, store, []evotorapi.Product{{Id: &one, Name: &name}, {Id: &two, Name: &name}})
	if err != nil {
		t.Fatal(err)
	}
	if done, err := api.Bulk(ctx, task.ID); err != nil || *done.Value.Status != "COMPLETED" {
		t.Fatalf("the bulk replace: %s, %v", done.Raw, err)
	}
	if _, err := s.user("01-000000000000002", "cloud-token-2").Bulk(ctx, task.ID); !errors.Is(err, evotorapi.ErrNotFound) {
		t.Fatalf("another user's task: %v", err)
	}

	listed := ids(all(t, api.Products(ctx, store, evotorapi.ProductFilter{})))
	if len(listed) != 6 || listed[0] != created.ID || listed[1] != "my-own-id" || listed[4] != "bulk-1" {
		t.Fatalf("the store's products after the writes: %v", listed)
	}
	if got := m.Records(user1, KindProduct, store)[1]; got.Webhook != nil || !strings.Contains(string(got.JSON), `"quantity":"7.5"`) {
		t.Fatalf("a product written through the API: %+v", got)
	}

	if err := api.DeleteProduct(ctx, store, "my-own-id"); err != nil {
		t.Fatal(err)
	}
	if err := api.DeleteProduct(ctx, store, "my-own-id"); !errors.Is(err, evotorapi.ErrNotFound) {
		t.Fatalf("deleting it again: %v", err)
	}
	if task, err := api.DeleteProducts(ctx, store, []string{"bulk-1", "bulk-2", "never-was"}); err != nil || task != nil {
		t.Fatalf("bulk delete (204): %v, %v", task, err)
	}
	if left := ids(all(t, api.Products(ctx, store, evotorapi.ProductFilter{}))); len(left) != 3 {
		t.Fatalf("after the deletes: %v", left)
	}
}

func TestProductGroupWrites(t *testing.T) {
	_, api := withUser1(t, Config{})
	ctx := context.Background()
	store, name := storeID(0), "Напитки"
	g, err := api.CreateProductGroup(ctx, store, evotorapi.ProductGroup{Name: &name})
	if err != nil || g.ID == "" {
		t.Fatalf("create: %v", err)
	}
	renamed := "Соки"
	if p, err := api.UpdateProductGroup(ctx, store, g.ID, evotorapi.GroupPatch{Name: &renamed}); err != nil || *p.Value.Name != renamed {
		t.Fatalf("patch: %v", err)
	}
	if _, err := api.ReplaceProductGroup(ctx, store, "g0-0", evotorapi.ProductGroup{Name: &renamed}); err != nil {
		t.Fatalf("replace: %v", err)
	}
	task, err := api.CreateProductGroups(ctx, store, []evotorapi.ProductGroup{{Name: &name}})
	if err != nil || *task.Value.Type != "product_group" {
		t.Fatalf("bulk create: %s, %v", task.Raw, err)
	}
	if _, err := api.ReplaceProductGroups(ctx, store, []evotorapi.ProductGroup{{Name: &name}}); err != nil {
		t.Fatal(err) // accepted; the element without an id fails in the task
	}
	if got := len(all(t, api.ProductGroups(ctx, store))); got != 4 {
		t.Fatalf("%d groups, want 2 + 1 + 1", got)
	}
	must(t, api.DeleteProductGroup(ctx, store, g.ID))
	if _, err := api.DeleteProductGroups(ctx, store, []string{"g0-0", "g0-1"}); err != nil {
		t.Fatal(err)
	}
	if got := len(all(t, api.ProductGroups(ctx, store))); got != 1 {
		t.Fatalf("%d groups after the deletes", got)
	}
}
