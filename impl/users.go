package impl

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/evotor-partner/evotor-partner/generated"
	"github.com/evotor-partner/evotor-partner/impl/apperr"
	"github.com/evotor-partner/evotor-partner/impl/storage"
	"github.com/evotor-partner/evotor-partner/impl/usertoken"
	"github.com/evotor-partner/evotor-partner/security"
)

// evotorUserID takes userId, or the legacy userUuid older Evotor payloads carry.
func evotorUserID(userID, userUUID *string) (string, bool) {
	switch {
	case userID != nil && *userID != "":
		return *userID, true
	case userUUID != nil && *userUUID != "":
		return *userUUID, true
	}
	return "", false
}

var errMissingUserID = apperr.New(apperr.Missing, "userId")

// loginFields are the custom fields, in order of preference, that name the account's login.
var loginFields = []string{"username", "login", "email"}

// accountLogin is the login among an app's fields: the first of loginFields that is a
// non-empty string. user/create and user/verify read it alike, so an account created with an
// email logs in with that email.
func accountLogin(fields map[string]any) (string, bool) {
	for _, f := range loginFields {
		if v, ok := fields[f].(string); ok && v != "" {
			return v, true
		}
	}
	return "", false
}

func deref(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

// registration splits user/create's custom fields into the account's login, password (hashed
// here, dropped from what is kept) and the rest, kept as given.
func registration(custom map[string]any) (storage.NewAccount, error) {
	var a storage.NewAccount
	a.Login, _ = accountLogin(custom)
	kept := make(map[string]any, len(custom))
	for k, v := range custom {
		kept[k] = v
	}
	if pw, ok := kept["password"].(string); ok && pw != "" {
		a.PasswordHash = security.HashPassword(pw)
	}
	delete(kept, "password")
	b, err := json.Marshal(kept)
	a.CustomFields = string(b)
	return a, err
}

// CreateUser registers the Evotor user as a new partner account (user/create).
func (s *Server) CreateUser(ctx context.Context, req generated.CreateUserRequestObject) (generated.CreateUserResponseObject, error) {
	userID, ok := evotorUserID(req.Body.UserId, req.Body.UserUuid)
	if !ok {
		return nil, errMissingUserID
	}
	account, err := registration(req.Body.AdditionalProperties)
	if err != nil {
		return nil, err
	}
	token, hash := usertoken.New()
	_, err = s.store.RegisterEvotorUser(ctx, userID, account, hash[:])
	if errors.Is(err, apperr.ErrLoginTaken) {
		return nil, apperr.New(apperr.LoginTaken, "username")
	}
	if err != nil {
		return nil, err
	}
	return generated.CreateUser200JSONResponse{UserId: userID, Token: token}, nil
}

// VerifyUser links an existing partner account to the Evotor user (user/verify).
func (s *Server) VerifyUser(ctx context.Context, req generated.VerifyUserRequestObject) (generated.VerifyUserResponseObject, error) {
	userID, ok := evotorUserID(req.Body.UserId, req.Body.UserUuid)
	if !ok {
		return nil, errMissingUserID
	}
	login, ok := accountLogin(map[string]any{"username": deref(req.Body.Username), "login": deref(req.Body.Login), "email": deref(req.Body.Email)})
	if !ok {
		return nil, apperr.New(apperr.Missing, "username")
	}
	keys := security.LoginKeys(login, userID)
	if !s.logins.Allowed(keys) {
		return nil, apperr.New(apperr.TooManyAttempts, "")
	}
	acc, found, err := s.store.AccountByLogin(ctx, login)
	if err != nil {
		return nil, err
	}
	hash := ""
	if found && acc.PasswordHash != nil {
		hash = *acc.PasswordHash
	}
	// Always runs argon2, so an unknown login costs the same as a wrong password.
	matched, err := security.CheckPassword(ctx, hash, req.Body.Password)
	if err != nil {
		return nil, err
	}
	if !matched {
		s.logins.Failed(keys)
		return nil, apperr.New(apperr.BadLoginPassword, "")
	}
	s.logins.Succeeded(keys)
	token, tokenHash := usertoken.New()
	err = s.store.LinkEvotorUser(ctx, acc.ID, userID, tokenHash[:])
	if errors.Is(err, apperr.ErrLinkedElsewhere) {
		return nil, apperr.New(apperr.LinkedElsewhere, "userId")
	}
	if err != nil {
		return nil, err
	}
	return generated.VerifyUser200JSONResponse{UserId: userID, HasBilling: acc.HasBilling, Token: token}, nil
}

// StoreCloudToken keeps Evotor's cloud token for the user, sealed (user/token). It may come
// before the user has an account.
func (s *Server) StoreCloudToken(ctx context.Context, req generated.StoreCloudTokenRequestObject) (generated.StoreCloudTokenResponseObject, error) {
	userID, ok := evotorUserID(req.Body.UserId, req.Body.UserUuid)
	if !ok {
		return nil, errMissingUserID
	}
	sealed := s.sealer.Seal([]byte(req.Body.Token), userID)
	if err := s.store.SaveCloudToken(ctx, userID, sealed); err != nil {
		return nil, err
	}
	return generated.StoreCloudToken200Response{}, nil
}
