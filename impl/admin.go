package impl

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/evotor-partner/evotor-partner/generated"
	"github.com/evotor-partner/evotor-partner/impl/apperr"
	"github.com/evotor-partner/evotor-partner/impl/storage"
	"github.com/evotor-partner/evotor-partner/security"
)

// The partner's admin API: what Evotor sent, read back exactly as stored.

const defaultPageSize = 100

var errBadCursor = apperr.Because(apperr.Incorrect, "cursor", "not a cursor this server issued")

// pageArgs reads limit and cursor; errBadCursor for a cursor this server did not issue.
func pageArgs(limit *int, cursor *string) (n int, after string, err error) {
	n = defaultPageSize
	if limit != nil {
		n = *limit
	}
	if cursor == nil || *cursor == "" {
		return n, "", nil
	}
	b, decodeErr := base64.RawURLEncoding.DecodeString(*cursor)
	if decodeErr != nil || len(b) == 0 {
		return 0, "", errBadCursor
	}
	return n, string(b), nil
}

// newestFirstArgs reads limit and cursor of a listing paged by a descending number (0: the
// first page).
func newestFirstArgs(limit *int, cursor *string) (n int, before int64, err error) {
	n, after, err := pageArgs(limit, cursor)
	if err != nil || after == "" {
		return n, 0, err
	}
	before, err = strconv.ParseInt(after, 10, 64)
	if err != nil || before <= 0 {
		return 0, 0, errBadCursor
	}
	return n, before, nil
}

func nextCursor(more bool, lastKey string) *string {
	if !more {
		return nil
	}
	c := base64.RawURLEncoding.EncodeToString([]byte(lastKey))
	return &c
}

// rawObject decodes stored JSON with numbers kept as written ("1.000" stays 1.000).
func rawObject(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	err := dec.Decode(&m)
	return m, err
}

// listPage runs one listing and renders it as a page.
func (s *Server) listPage(ctx context.Context, l storage.Listing, limit *int, cursor *string) (*generated.Page, error) {
	n, after, err := pageArgs(limit, cursor)
	if err != nil {
		return nil, err
	}
	items, more, err := s.store.List(ctx, l, after, n)
	if err != nil {
		return nil, err
	}
	page := &generated.Page{Items: make([]map[string]any, len(items))}
	for i, it := range items {
		if it.Raw == nil { // a store only referenced so far
			page.Items[i] = map[string]any{"uuid": it.Key}
			continue
		}
		if page.Items[i], err = rawObject(it.Raw); err != nil {
			return nil, err
		}
	}
	if len(items) > 0 {
		page.NextCursor = nextCursor(more, items[len(items)-1].Key)
	}
	return page, nil
}

// listed renders a listPage result as the operation's own 200 response.
func listed[R any](page *generated.Page, err error, ok func(generated.PageJSONResponse) R) (R, error) {
	if err != nil {
		var zero R
		return zero, err
	}
	return ok(generated.PageJSONResponse(*page)), nil
}

func (s *Server) AdminListStores(ctx context.Context, req generated.AdminListStoresRequestObject) (generated.AdminListStoresResponseObject, error) {
	page, err := s.listPage(ctx, storage.StoresOf(req.UserId), req.Params.Limit, req.Params.Cursor)
	return listed(page, err,
		func(p generated.PageJSONResponse) generated.AdminListStoresResponseObject {
			return generated.AdminListStores200JSONResponse{PageJSONResponse: p}
		})
}

func (s *Server) AdminListDevices(ctx context.Context, req generated.AdminListDevicesRequestObject) (generated.AdminListDevicesResponseObject, error) {
	page, err := s.listPage(ctx, storage.DevicesOf(req.UserId), req.Params.Limit, req.Params.Cursor)
	return listed(page, err,
		func(p generated.PageJSONResponse) generated.AdminListDevicesResponseObject {
			return generated.AdminListDevices200JSONResponse{PageJSONResponse: p}
		})
}

func (s *Server) AdminListEmployees(ctx context.Context, req generated.AdminListEmployeesRequestObject) (generated.AdminListEmployeesResponseObject, error) {
	page, err := s.listPage(ctx, storage.EmployeesOf(req.UserId), req.Params.Limit, req.Params.Cursor)
	return listed(page, err,
		func(p generated.PageJSONResponse) generated.AdminListEmployeesResponseObject {
			return generated.AdminListEmployees200JSONResponse{PageJSONResponse: p}
		})
}

func (s *Server) AdminListProducts(ctx context.Context, req generated.AdminListProductsRequestObject) (generated.AdminListProductsResponseObject, error) {
	page, err := s.listPage(ctx, storage.ProductsOf(req.UserId, req.StoreUuid), req.Params.Limit, req.Params.Cursor)
	return listed(page, err,
		func(p generated.PageJSONResponse) generated.AdminListProductsResponseObject {
			return generated.AdminListProducts200JSONResponse{PageJSONResponse: p}
		})
}

func (s *Server) AdminListDocuments(ctx context.Context, req generated.AdminListDocumentsRequestObject) (generated.AdminListDocumentsResponseObject, error) {
	page, err := s.listPage(ctx, storage.DocumentsOf(req.UserId, req.StoreUuid), req.Params.Limit, req.Params.Cursor)
	return listed(page, err,
		func(p generated.PageJSONResponse) generated.AdminListDocumentsResponseObject {
			return generated.AdminListDocuments200JSONResponse{PageJSONResponse: p}
		})
}

func (s *Server) AdminListReceipts(ctx context.Context, req generated.AdminListReceiptsRequestObject) (generated.AdminListReceiptsResponseObject, error) {
	page, err := s.listPage(ctx, storage.ReceiptsOf(req.UserId), req.Params.Limit, req.Params.Cursor)
	return listed(page, err,
		func(p generated.PageJSONResponse) generated.AdminListReceiptsResponseObject {
			return generated.AdminListReceipts200JSONResponse{PageJSONResponse: p}
		})
}

// AdminListEvents lists the user's inbox, newest first.
func (s *Server) AdminListEvents(ctx context.Context, req generated.AdminListEventsRequestObject) (generated.AdminListEventsResponseObject, error) {
	n, before, err := newestFirstArgs(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	entries, more, err := s.store.InboxOf(ctx, req.UserId, before, n)
	if err != nil {
		return nil, err
	}
	page := generated.EventsPage{Items: make([]generated.StoredEvent, len(entries))}
	for i, e := range entries {
		var params map[string]string
		_ = json.Unmarshal([]byte(e.PathParams), &params)
		page.Items[i] = generated.StoredEvent{Id: e.ID, Operation: e.Operation, ReceivedAt: e.ReceivedAt, PathParams: params, BodyBytes: e.BodyBytes}
	}
	if len(entries) > 0 {
		page.NextCursor = nextCursor(more, strconv.FormatInt(entries[len(entries)-1].ID, 10))
	}
	return generated.AdminListEvents200JSONResponse(page), nil
}

// AdminGetEventBody answers one stored delivery's body, byte for byte.
func (s *Server) AdminGetEventBody(ctx context.Context, req generated.AdminGetEventBodyRequestObject) (generated.AdminGetEventBodyResponseObject, error) {
	body, found, err := s.store.InboxBody(ctx, req.UserId, req.EventId)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, apperr.Because(apperr.NotFound, "eventId", "the user has no stored delivery with this id")
	}
	return rawJSON(body), nil
}

// rawJSON is a JSON body written as it is (the generated response would encode it again).
type rawJSON []byte

func (b rawJSON) VisitAdminGetEventBodyResponse(w http.ResponseWriter) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(b)
	return err
}

// AdminGetUser shows what is known of an Evotor user (never the cloud token itself).
func (s *Server) AdminGetUser(ctx context.Context, req generated.AdminGetUserRequestObject) (generated.AdminGetUserResponseObject, error) {
	v, err := s.store.User(ctx, req.UserId)
	if err != nil {
		return nil, err
	}
	if !v.Known() {
		return nil, apperr.New(apperr.NotFound, "userId")
	}
	out := generated.AdminUser{UserId: req.UserId, HasCloudToken: v.HasCloudToken,
		Installations: []generated.InstallationState{}, Subscriptions: []generated.SubscriptionState{}}
	if v.HasCloudToken {
		out.CloudTokenValid = &v.CloudTokenValid
	}
	if a := v.Account; a != nil {
		out.Account = &generated.AdminAccount{Id: a.ID, Login: a.Login, HasBilling: a.HasBilling}
	}
	for _, i := range v.Installations {
		out.Installations = append(out.Installations, generated.InstallationState{ProductId: i.ProductID, Installed: i.Installed, LastEventMs: i.LastEventMs})
	}
	for _, sub := range v.Subscriptions {
		st := generated.SubscriptionState{SubscriptionId: sub.SubscriptionID, ProductId: sub.ProductID, Status: sub.Status,
			TerminationRequested: sub.TerminationRequested, PlanId: sub.PlanID, DeviceNumber: sub.DeviceNumber,
			NextBillingDate: sub.NextBillingDate, LastSequence: sub.LastSequence}
		if sub.Addons != nil {
			var addons []map[string]any
			if json.Unmarshal([]byte(*sub.Addons), &addons) == nil {
				st.Addons = &addons
			}
		}
		out.Subscriptions = append(out.Subscriptions, st)
	}
	return generated.AdminGetUser200JSONResponse(out), nil
}

// AdminCreateAccount is the API twin of `evotor-partner accounts add`.
func (s *Server) AdminCreateAccount(ctx context.Context, req generated.AdminCreateAccountRequestObject) (generated.AdminCreateAccountResponseObject, error) {
	hasBilling := req.Body.HasBilling != nil && *req.Body.HasBilling
	id, err := s.store.AddAccount(ctx, storage.NewAccount{Login: req.Body.Login, PasswordHash: security.HashPassword(req.Body.Password), HasBilling: hasBilling})
	if errors.Is(err, apperr.ErrLoginTaken) {
		return nil, apperr.New(apperr.LoginTaken, "login")
	}
	if err != nil {
		return nil, err
	}
	return generated.AdminCreateAccount200JSONResponse{Id: id, Login: req.Body.Login}, nil
}

// AdminListUsers lists the Evotor users the server has heard of, newest first.
func (s *Server) AdminListUsers(ctx context.Context, req generated.AdminListUsersRequestObject) (generated.AdminListUsersResponseObject, error) {
	n, before, err := newestFirstArgs(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	filter := storage.UserFilter{Installed: req.Params.Installed}
	if req.Params.SubscriptionStatus != nil {
		filter.SubscriptionStatus = string(*req.Params.SubscriptionStatus)
	}
	users, more, err := s.store.Users(ctx, filter, before, n)
	if err != nil {
		return nil, err
	}
	page := generated.UsersPage{Items: make([]generated.AdminUserSummary, len(users))}
	for i, u := range users {
		page.Items[i] = generated.AdminUserSummary{UserId: u.EvotorUserID, FirstSeenAt: u.FirstSeenAt, HasAccount: u.HasAccount,
			HasCloudToken: u.HasCloudToken, Installed: u.Installed, SubscriptionStatuses: u.SubscriptionStatuses}
		if u.HasCloudToken {
			page.Items[i].CloudTokenValid = &users[i].CloudTokenValid
		}
	}
	if len(users) > 0 {
		page.NextCursor = nextCursor(more, strconv.FormatInt(users[len(users)-1].Seq, 10))
	}
	return generated.AdminListUsers200JSONResponse(page), nil
}
