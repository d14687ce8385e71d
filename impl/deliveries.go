package impl

import (
	"context"
	"encoding/json"

	"github.com/evotor-partner/evotor-partner/generated"
	"github.com/evotor-partner/evotor-partner/impl/store"
	"github.com/evotor-partner/evotor-partner/security"
)

// accept stores a delivery in the inbox exactly as it arrived, before the 200: whatever the
// domain later makes of it, nothing Evotor sent is lost. userID is the user the delivery is
// about: the token's user for notifications, the body's userId for app events.
func (s *Server) accept(ctx context.Context, operation, userID string, pathParams map[string]string) error {
	params, err := json.Marshal(pathParams)
	if err != nil {
		return err
	}
	entry := store.InboxEntry{Operation: operation, PathParams: string(params), Body: security.RawBodyFrom(ctx)}
	if userID != "" {
		entry.EvotorUserID = &userID
	}
	return s.store.AppendInbox(ctx, entry)
}

// tokenUser is the Evotor user behind the request's user token.
func tokenUser(ctx context.Context) string {
	p, _ := security.PrincipalFrom(ctx)
	return p.UserID
}

func storeParams(storeUUID string) map[string]string {
	return map[string]string{"storeUuid": storeUUID}
}

// Each handler below returns its 200 only when accept stored the delivery (the strict wrapper
// checks the error first).

func (s *Server) SubscriptionEvent(ctx context.Context, req generated.SubscriptionEventRequestObject) (generated.SubscriptionEventResponseObject, error) {
	return generated.SubscriptionEvent200Response{}, s.accept(ctx, "subscriptionEvent", req.Body.UserId, nil)
}

func (s *Server) InstallationEvent(ctx context.Context, req generated.InstallationEventRequestObject) (generated.InstallationEventResponseObject, error) {
	return generated.InstallationEvent200Response{}, s.accept(ctx, "installationEvent", req.Body.Data.UserId, nil)
}

func (s *Server) CreateProducts(ctx context.Context, req generated.CreateProductsRequestObject) (generated.CreateProductsResponseObject, error) {
	return generated.CreateProducts200Response{}, s.accept(ctx, "createProducts", tokenUser(ctx), storeParams(req.StoreUuid))
}

func (s *Server) PutDocuments(ctx context.Context, req generated.PutDocumentsRequestObject) (generated.PutDocumentsResponseObject, error) {
	return generated.PutDocuments200Response{}, s.accept(ctx, "putDocuments", tokenUser(ctx), storeParams(req.StoreUuid))
}

func (s *Server) PutDevices(ctx context.Context, _ generated.PutDevicesRequestObject) (generated.PutDevicesResponseObject, error) {
	return generated.PutDevices200Response{}, s.accept(ctx, "putDevices", tokenUser(ctx), nil)
}

func (s *Server) PutEmployees(ctx context.Context, _ generated.PutEmployeesRequestObject) (generated.PutEmployeesResponseObject, error) {
	return generated.PutEmployees200Response{}, s.accept(ctx, "putEmployees", tokenUser(ctx), nil)
}

func (s *Server) PutStores(ctx context.Context, _ generated.PutStoresRequestObject) (generated.PutStoresResponseObject, error) {
	return generated.PutStores200Response{}, s.accept(ctx, "putStores", tokenUser(ctx), nil)
}

func (s *Server) PostReceipts(ctx context.Context, _ generated.PostReceiptsRequestObject) (generated.PostReceiptsResponseObject, error) {
	return generated.PostReceipts200Response{}, s.accept(ctx, "postReceipts", tokenUser(ctx), nil)
}
