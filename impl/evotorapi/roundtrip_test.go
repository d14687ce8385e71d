package evotorapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/evotor-partner/evotor-partner/generated/evotorrest"
)

// The generated server and the generated client agree, through this package: a stand-in for
// Evotor built on the generated strict echo server (as the simulator will be) answers the
// wrapper's calls. It also shows what such a server needs: echo's DefaultBinder binds only
// `application/json`, so Evotor's `application/vnd.evotor.v2+json` and `+bulk+json` bodies need
// the vendorJSONBinder below (without it every body is refused 415).

// vendorJSONBinder binds any JSON media type (`…/json`, `…+json`) as JSON; the rest as echo does.
type vendorJSONBinder struct{ echo.DefaultBinder }

func (b *vendorJSONBinder) Bind(i any, c echo.Context) error {
	mt, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if mt != echo.MIMEApplicationJSON && (strings.HasSuffix(mt, "+json") || strings.HasSuffix(mt, "/json")) {
		body, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, "body not read")
		}
		if err := json.Unmarshal(body, i); err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, "body is not the JSON the contract describes")
		}
		return nil
	}
	return b.DefaultBinder.Bind(i, c)
}

// fakeEvotor implements three operations of the strict server; the others are not called.
type fakeEvotor struct {
	evotorrest.StrictServerInterface // nil: any other operation panics, which fails the test

	mu       sync.Mutex
	products []evotorrest.Product
	created  [][]evotorrest.Product
	token    string
}

const pageSize = 2

func (f *fakeEvotor) ListProducts(_ context.Context, req evotorrest.ListProductsRequestObject) (evotorrest.ListProductsResponseObject, error) {
	start := 0
	if req.Params.Cursor != nil {
		var err error
		if start, err = startOf(*req.Params.Cursor); err != nil {
			return evotorrest.ListProducts400ApplicationVndEvotorV2PlusJSONResponse{}, nil
		}
	}
	end := min(start+pageSize, len(f.products))
	page := evotorrest.ListProducts200ApplicationVndEvotorV2PlusJSONResponse{Items: f.products[start:end]}
	if end < len(f.products) {
		next := "at:" + strconv.Itoa(end)
		page.Paging = &evotorrest.Paging{NextCursor: &next}
	}
	return page, nil
}

func (f *fakeEvotor) CreateProducts(_ context.Context, req evotorrest.CreateProductsRequestObject) (evotorrest.CreateProductsResponseObject, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if req.ApplicationVndEvotorV2PlusBulkJSONBody != nil {
		f.created = append(f.created, *req.ApplicationVndEvotorV2PlusBulkJSONBody)
		id, status := "task-1", "ACCEPTED"
		return evotorrest.CreateProducts202ApplicationVndEvotorV2PlusJSONResponse{Id: &id, Status: &status}, nil
	}
	p := *req.ApplicationVndEvotorV2PlusJSONBody
	id := "new-1"
	p.Id = &id
	return evotorrest.CreateProducts200ApplicationVndEvotorV2PlusJSONResponse(p), nil
}

func (f *fakeEvotor) GetStore(context.Context, evotorrest.GetStoreRequestObject) (evotorrest.GetStoreResponseObject, error) {
	msg := "token revoked"
	return evotorrest.GetStore401ApplicationVndEvotorV2PlusJSONResponse{UnauthorizedApplicationVndEvotorV2PlusJSONResponse: evotorrest.UnauthorizedApplicationVndEvotorV2PlusJSONResponse{Message: &msg}}, nil
}

func TestTheGeneratedServerAndClientAgree(t *testing.T) {
	fake := &fakeEvotor{}
	for i := range 5 {
		name, price := "Товар "+strconv.Itoa(i), evotorrest.Decimal{}
		if err := price.FromDecimal1(strconv.Itoa(i) + ".50"); err != nil {
			t.Fatal(err)
		}
		id := "p" + strconv.Itoa(i)
		fake.products = append(fake.products, evotorrest.Product{Id: &id, Name: &name, Price: &price})
	}
	e := echo.New()
	e.Binder = &vendorJSONBinder{}
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			fake.mu.Lock()
			fake.token = c.Request().Header.Get("Authorization")
			fake.mu.Unlock()
			return next(c)
		}
	})
	evotorrest.RegisterHandlers(e, evotorrest.NewStrictHandler(fake, nil))
	srv := httptest.NewServer(e)
	defer srv.Close()

	c, _ := newTestClient(t, srv.URL, Config{})
	s := c.Session(NewCloudToken(testToken))
	ctx := context.Background()

	items, err := collect(s.Products(ctx, "store", ProductFilter{}))
	if err != nil || len(items) != 5 {
		t.Fatalf("%d products, err %v", len(items), err)
	}
	for i, it := range items {
		if price, _ := Text(it.Value.Price); it.ID != "p"+strconv.Itoa(i) || price != strconv.Itoa(i)+".50" || it.Mismatch != nil {
			t.Fatalf("product %d: %s (price %q, mismatch %v)", i, it.Raw, price, it.Mismatch)
		}
	}

	name := "Сидр"
	one, err := s.CreateProduct(ctx, "store", Product{Name: &name})
	if err != nil || one.ID != "new-1" || *one.Value.Name != name {
		t.Fatalf("single create: %+v, %v", one, err)
	}
	task, err := s.CreateProducts(ctx, "store", []Product{{Name: &name}, {Name: &name}})
	if err != nil || task.ID != "task-1" || len(fake.created) != 1 || len(fake.created[0]) != 2 {
		t.Fatalf("bulk create: %+v, %v, server got %v", task, err, fake.created)
	}

	_, err = s.Store(ctx, "store")
	if !errors.Is(err, ErrTokenInvalid) {
		t.Fatalf("401 from the generated server: %v", err)
	}
	if fake.token != "Bearer "+testToken {
		t.Fatal("the server did not receive the bearer token")
	}
}

// startOf reads the "at:N" cursors fakeEvotor hands out.
func startOf(cursor string) (int, error) {
	n, ok := strings.CutPrefix(cursor, "at:")
	if !ok {
		return 0, errors.New("not a cursor of ours")
	}
	return strconv.Atoi(n)
}
