package restsim

import "github.com/evotor-partner/evotor-partner/impl/evotor"

// Evotor's webhooks and its REST API describe the same records under different names: a
// webhook's `uuid`, `storeUuid`, `barCodes` are the API's `id`, `store_id`, `barcodes`
// (openapi/openapi.yaml against openapi/evotor-rest.yaml). A record is kept in the API's shape:
// the fields the REST contract names are renamed, every other field is kept under its own name
// (as Evotor's answers carry fields the contract does not name), and the fields Evotor's API
// adds itself (user_id, store_id, created_at, updated_at) are set by the model. A record given
// in the API's shape already (a product written through the API) passes through unchanged.

// Kind is a kind of record the REST API serves.
type Kind int

const (
	KindStore Kind = iota
	KindDevice
	KindEmployee
	KindProduct
	KindProductGroup
	KindDocument
)

var kindNames = [...]string{"store", "device", "employee", "product", "product group", "document"}

func (k Kind) String() string { return kindNames[k] }

// storeScoped kinds live in a store (/stores/{store_id}/…).
func (k Kind) storeScoped() bool { return k >= KindProduct }

// renames are the webhook's names of the fields the REST contract names differently
// (evotor.APINames, shared with reconciliation, which turns the API's answers back).
var renames = [...]map[string]string{
	KindStore: evotor.APINames["store"], KindDevice: evotor.APINames["device"], KindEmployee: evotor.APINames["employee"],
	KindProduct: evotor.APINames["product"], KindProductGroup: evotor.APINames["product group"], KindDocument: evotor.APINames["document"],
}

// documentHeader are the document fields the contract types; everything else a webhook's
// document carries (sums, open date, transactions…) is its type-specific `body`.
var documentHeader = map[string]bool{"id": true, "type": true, "extras": true, "number": true, "close_date": true,
	"time_zone_offset": true, "session_id": true, "session_number": true, "close_user_id": true, "device_id": true,
	"store_id": true, "user_id": true, "version": true, "body": true, "created_at": true, "updated_at": true}

// managed are the members the model sets on every record of a kind (given values are replaced).
func managed(k Kind) []string {
	if k.storeScoped() {
		return []string{"store_id", "user_id", "created_at", "updated_at"}
	}
	return []string{"user_id", "created_at", "updated_at"}
}

// restShape turns an item (a webhook's, or the API's own) into the API's shape, `id` first
// (absent when the item has no usable id).
func restShape(k Kind, in object) object {
	out := object{}
	var body object
	given, hasBody := in.get("body")
	apiShape := hasBody && given.Kind() == '{' // a document in the API's shape keeps its body and its other fields
	if id := firstOf(in.text("uuid"), in.text("id")); id != "" {
		out.setString("id", id) // a string, as the contract's ids are, even when a webhook wrote a number
	}
	for _, m := range in {
		name := m.name
		if to, ok := renames[k][name]; ok {
			name = to
		}
		if name == "id" {
			continue
		}
		switch {
		case k == KindProductGroup && name == "attributes" && m.value.Kind() != '[' && m.value.Kind() != 'n':
			continue // a webhook's variant characteristics (an object), not the API's modification attributes (an array)
		case k == KindDocument && !apiShape && !documentHeader[name]:
			body = append(body, member{name, m.value})
			continue
		}
		out.set(name, m.value)
	}
	if k == KindDocument && !apiShape && len(body) > 0 {
		out.set("body", body.marshal())
	}
	return out
}
