package impl

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"

	"github.com/evotor-partner/evotor-partner/generated"
	"github.com/evotor-partner/evotor-partner/impl/apperr"
	"github.com/evotor-partner/evotor-partner/impl/storage"
	"github.com/evotor-partner/evotor-partner/security"
)

// FindCommodity answers a barcode lookup with the token user's product in Evotor's commodity
// shape; with alcCode, the product must also carry that alcohol code.
func (s *Server) FindCommodity(ctx context.Context, req generated.FindCommodityRequestObject) (generated.FindCommodityResponseObject, error) {
	p, ok := security.PrincipalFrom(ctx)
	if !ok || p.UserID == "" {
		return nil, apperr.New(apperr.BadUserToken, "")
	}
	// The token as it is now: an uninstall on any replica refuses the lookup at once, however
	// the authenticator's cache remembers it.
	if err := s.store.ConfirmToken(ctx, p.Token); err != nil {
		return nil, err
	}
	rows, err := s.store.ProductsByBarcode(ctx, p.UserID, req.Params.ScanCode)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		if req.Params.AlcCode != nil && !slices.Contains(jsonList(r.AlcoCodes), *req.Params.AlcCode) {
			continue
		}
		return generated.FindCommodity200JSONResponse(commodity(r)), nil
	}
	return generated.FindCommodity404JSONResponse{}, nil
}

func commodity(r storage.ProductRow) generated.Commodity {
	c := generated.Commodity{Name: &r.Name, Measure: r.MeasureName,
		AlcoholByVolume: number(r.AlcoholByVolume), AlcoholProductKindCode: number(r.AlcoholProductKindCode), TareVolume: number(r.TareVolume)}
	if codes := jsonList(r.BarCodes); codes != nil {
		c.ScanCodes = &codes
	}
	if codes := jsonList(r.AlcoCodes); codes != nil {
		c.AlcCodes = &codes
	}
	return c
}

func jsonList(s *string) []string {
	if s == nil {
		return nil
	}
	var list []string
	_ = json.Unmarshal([]byte(*s), &list)
	return list
}

func number(s *string) *float64 {
	if s == nil {
		return nil
	}
	f, err := strconv.ParseFloat(*s, 64)
	if err != nil {
		return nil
	}
	return &f
}
