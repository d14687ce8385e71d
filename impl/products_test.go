package impl

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"pgregory.net/rapid"

	"github.com/evotor-partner/evotor-partner/generated"
	"github.com/evotor-partner/evotor-partner/impl/storage"
	"github.com/evotor-partner/evotor-partner/security"
)

// TestProductRowsAreTheBoundProducts: the columns productRow reads from a catalogue's item are
// those the generated model binds (BindExact), for any catalogue the validator accepts: ids
// of any shape, strings and member names written with any escapes, amounts as numbers or
// strings, optional members absent or null, lists empty or not, unknown members holding
// look-alike members.
func TestProductRowsAreTheBoundProducts(t *testing.T) {
	e, token := validating(t)
	var got, want []storage.ProductRow
	var rowsErr error
	e.POST("/api/v1/inventories/stores/:storeUuid/products", func(c echo.Context) error {
		items, err := security.BodyItems(c.Request().Context())
		if err != nil {
			return err
		}
		got, want, rowsErr = nil, nil, nil
		for raw := range items {
			r, err := productRow(raw)
			if err != nil {
				rowsErr = err
			}
			got, want = append(got, r), append(want, boundProductRow(t, raw))
		}
		return c.NoContent(http.StatusOK)
	})
	rapid.Check(t, func(rt *rapid.T) {
		body := "[" + strings.Join(rapid.SliceOfN(productItem(), 1, 4).Draw(rt, "products"), ",") + "]"
		postValidated(rt, e, token, "/api/v1/inventories/stores/"+uuid.NewString()+"/products", body)
		sameRows(rt, body, rowsErr, got, want)
	})
}

// boundProductRow is productRow by binding the item into the generated model.
func boundProductRow(t *testing.T, raw []byte) storage.ProductRow {
	var p generated.Product
	if err := security.BindExact(raw, &p); err != nil {
		t.Fatal(err)
	}
	return storage.ProductRow{UUID: p.Uuid, ParentUUID: canonical(p.ParentUuid),
		IsGroup: p.Group, HasVariants: p.HasVariants, Type: p.Type, Name: p.Name, Code: p.Code,
		BarCodes: jsonText(p.BarCodes), AlcoCodes: jsonText(p.AlcoCodes), Price: decimalText(p.Price),
		Quantity: decimalText(p.Quantity), CostPrice: decimalText(p.CostPrice), MeasureName: p.MeasureName,
		Tax: p.Tax, AllowToSell: p.AllowToSell, ArticleNumber: p.ArticleNumber,
		AlcoholByVolume: decimalText(p.AlcoholByVolume), AlcoholProductKindCode: decimalText(p.AlcoholProductKindCode),
		TareVolume: decimalText(p.TareVolume), Raw: raw}
}

// productItem is a catalogue's item as Evotor may write it.
func productItem() *rapid.Generator[string] {
	text := rapid.SampledFrom([]string{"Молоко 3,2%", "", "<b>&amp;</b>", "tab\there", `"quoted" \ slash`, "😀", "NORMAL"})
	str := func(t *rapid.T, label string) string { return jsonString(t, text.Draw(t, label)) }
	list := func(t *rapid.T, label string) string {
		var codes []string
		for range rapid.IntRange(0, 3).Draw(t, label+" length") {
			codes = append(codes, str(t, label))
		}
		return "[" + strings.Join(codes, ",") + "]"
	}
	boolean := func(t *rapid.T, label string) string {
		return rapid.SampledFrom([]string{"true", "false"}).Draw(t, label)
	}
	return rapid.Custom(func(t *rapid.T) string {
		members := []string{
			jsonMember(t, "uuid", jsonID(t, "uuid"), false),
			jsonMember(t, "name", jsonString(t, rapid.SampledFrom([]string{"Хлеб", "a", `x"y`, "😀"}).Draw(t, "name")), false),
			jsonMember(t, "group", boolean(t, "group"), false),
			jsonMember(t, "parentUuid", jsonID(t, "parent"), true),
			jsonMember(t, "hasVariants", boolean(t, "hasVariants"), true),
			jsonMember(t, "allowToSell", boolean(t, "allowToSell"), true),
			jsonMember(t, "barCodes", list(t, "barCodes"), true),
			jsonMember(t, "alcoCodes", list(t, "alcoCodes"), true),
			jsonMember(t, "attributes", `{"uuid":"not this one","name":{"price":1}}`, true),
			jsonMember(t, "variants", `[{"uuid":"nor this","barCodes":["1"]}]`, true),
		}
		for _, name := range []string{"type", "code", "measureName", "tax", "articleNumber", "description"} {
			members = append(members, jsonMember(t, name, str(t, name), true))
		}
		for _, name := range []string{"price", "quantity", "costPrice", "alcoholByVolume", "alcoholProductKindCode", "tareVolume"} {
			members = append(members, jsonMember(t, name, jsonDecimal(t, name), true))
		}
		// Any order, and a member's name escaped now and then (\u0075uid is uuid).
		members = rapid.Permutation(members).Draw(t, "order")
		for i, m := range members {
			if m != "" && rapid.IntRange(0, 9).Draw(t, "escape name") == 0 {
				members[i] = `"\u00` + fmt.Sprintf("%02x", m[1]) + m[2:]
			}
		}
		return jsonObject(strings.Join(members, ""))
	})
}
