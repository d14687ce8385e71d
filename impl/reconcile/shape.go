package reconcile

import (
	"bytes"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/evotor-partner/evotor-partner/impl/evotor"
)

// Evotor's webhooks and its REST API describe the same records under different names
// (openapi/openapi.yaml against openapi/evotor-rest.yaml): the API's `id`, `store_id`,
// `barcodes` are a webhook's `uuid`, `storeUuid`, `barCodes`. What the API lists is turned
// back into the webhook's shape, so the webhook handlers' row functions read it: the names the
// two contracts spell differently are renamed, every other member kept as Evotor wrote it, and
// the members the API adds of itself (user_id, created_at, updated_at; a product's store_id,
// the path's) dropped. (cmd/evotor-cloud/restsim does the opposite for the simulator.)

type kind int

const (
	kindStore kind = iota
	kindDevice
	kindEmployee
	kindProduct
	kindGroup
)

// webhookNames are the webhook's names of the API's members that are spelled differently
// (evotor.APINames, inverted).
var webhookNames = [...]map[string]string{
	kindStore: inverted("store"), kindDevice: inverted("device"), kindEmployee: inverted("employee"),
	kindProduct: inverted("product"), kindGroup: inverted("product group"),
}

func inverted(kind string) map[string]string {
	out := map[string]string{}
	for webhook, api := range evotor.APINames[kind] {
		out[api] = webhook
	}
	return out
}

// apiOnly are the members the API adds of itself.
var apiOnly = [...]map[string]bool{
	kindStore:    {"user_id": true, "created_at": true, "updated_at": true},
	kindDevice:   {"user_id": true, "created_at": true, "updated_at": true},
	kindEmployee: {"user_id": true, "created_at": true, "updated_at": true},
	kindProduct:  {"user_id": true, "created_at": true, "updated_at": true, "store_id": true},
	kindGroup:    {"user_id": true, "created_at": true, "updated_at": true, "store_id": true, "group": true},
}

// webhookShape renames an object's members to the webhook's names (a group gains the
// webhook's "group": true); values are copied byte for byte.
func webhookShape(k kind, raw []byte) ([]byte, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return nil, fmt.Errorf("an item that is not a JSON object")
	}
	out := bytes.NewBufferString("{")
	if k == kindGroup {
		out.WriteString(`"group":true`)
	}
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, err
		}
		name := tok.String()
		value, err := dec.ReadValue()
		if err != nil {
			return nil, err
		}
		if apiOnly[k][name] {
			continue
		}
		if to, ok := webhookNames[k][name]; ok {
			name = to
		}
		if out.Len() > 1 {
			out.WriteByte(',')
		}
		out.WriteString(strconv.Quote(name))
		out.WriteByte(':')
		out.Write(value)
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}

// fields is a row (storage.StoreRow, DeviceRow, EmployeeRow, ProductRow) seen through
// reflection: its uuid, its missing mark, and the columns a webhook writes.
type fields struct{ v reflect.Value }

func fieldsOf[R any](row *R) fields { return fields{reflect.ValueOf(row).Elem()} }

func (f fields) uuid() string     { return f.v.FieldByName("UUID").String() }
func (f fields) setUUID(u string) { f.v.FieldByName("UUID").SetString(u) }
func (f fields) missing() bool    { return !f.v.FieldByName("MissingSince").IsNil() }
func bookkeeping(name string) bool {
	return name == "Raw" || name == "RawHash" || name == "UpdatedAt" || name == "MissingSince"
}

// fillFrom keeps what Evotor's API does not describe: a column whose webhook member the API's
// record has no property for (a store's code, a product's hasVariants) keeps the stored value,
// the webhook's. Every other column is Evotor's answer, and a member the answer leaves out is
// one Evotor cleared.
func (f fields) fillFrom(stored fields, described map[string]bool) {
	for i := range f.v.NumField() {
		name := f.v.Type().Field(i).Name
		if bookkeeping(name) || described[columnMember(name)] {
			continue
		}
		if fv := f.v.Field(i); fv.Kind() == reflect.Pointer && fv.IsNil() {
			fv.Set(stored.v.Field(i))
		}
	}
}

// columnMember is the webhook member a row's column is read from (impl's row functions): the
// field's name in lower camel case, UUID written Uuid (StoreUUID from storeUuid); IsGroup is
// read from group.
func columnMember(field string) string {
	if field == "IsGroup" {
		return "group"
	}
	field = strings.ReplaceAll(field, "UUID", "Uuid")
	return strings.ToLower(field[:1]) + field[1:]
}

// describedMembers are the webhook's names of the members Evotor's API describes for a record
// of type T (its generated type's JSON names, openapi/evotor-rest.yaml), for kind k.
func describedMembers[T any](k kind) map[string]bool {
	out := map[string]bool{}
	t := reflect.TypeFor[T]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		if to, ok := webhookNames[k][name]; ok {
			name = to
		}
		out[name] = true
	}
	return out
}

// sameAs reports whether every column a webhook writes holds the same value in both rows.
func (f fields) sameAs(stored fields) bool {
	for i := range f.v.NumField() {
		if bookkeeping(f.v.Type().Field(i).Name) {
			continue
		}
		a, b := f.v.Field(i), stored.v.Field(i)
		if a.Kind() == reflect.Pointer && !a.IsNil() && !b.IsNil() {
			a, b = a.Elem(), b.Elem()
		}
		if t, ok := a.Interface().(time.Time); ok {
			if !t.Equal(b.Interface().(time.Time)) {
				return false
			}
			continue
		}
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			return false
		}
	}
	return true
}
