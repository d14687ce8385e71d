package restsim

import (
	"net/http"

	"github.com/go-json-experiment/json/jsontext"
)

// MediaType is what Evotor's API answers and reads (openapi/evotor-rest.yaml); BulkMediaType
// is a bulk write's body.
const (
	MediaType     = "application/vnd.evotor.v2+json"
	BulkMediaType = "application/vnd.evotor.v2+bulk+json"
)

// reply is an answer written as is: the records keep the fields the contract does not name,
// which the generated response types would drop. The contract's shapes are held by the tests,
// which check every answer against openapi/evotor-rest.yaml (Config.CheckAnswers).
type reply struct {
	status int
	body   []byte // nil: no body (204)
}

func (r reply) visit(w http.ResponseWriter) error {
	if r.body != nil {
		w.Header().Set("Content-Type", MediaType)
	}
	w.WriteHeader(r.status)
	_, err := w.Write(r.body)
	return err
}

func ok(body []byte) reply { return reply{http.StatusOK, body} }

var noContent = reply{status: http.StatusNoContent}

// violation is one field at fault in a 400.
type violation struct{ subject, reason string }

// failure is Evotor's error body ({code, message, violations}).
func failure(status int, code, message string, violations ...violation) reply {
	var o object
	o.setString("code", code)
	o.setString("message", message)
	if len(violations) > 0 {
		b := []byte{'['}
		for i, v := range violations {
			if i > 0 {
				b = append(b, ',')
			}
			var e object
			e.setString("reason", v.reason)
			e.setString("subject", v.subject)
			b = append(b, e.marshal()...)
		}
		o.set("violations", jsontext.Value(append(b, ']')))
	}
	return reply{status, o.marshal()}
}

func invalid(message string, violations ...violation) reply {
	return failure(http.StatusBadRequest, "validation_failed", message, violations...)
}

func notFound(what string) reply { return failure(http.StatusNotFound, "not_found", what+" not found") }

// The strict server's answer types, each a reply.
func (r reply) VisitCreateProductGroupsResponse(w http.ResponseWriter) error  { return r.visit(w) }
func (r reply) VisitCreateProductsResponse(w http.ResponseWriter) error       { return r.visit(w) }
func (r reply) VisitDeleteProductGroupResponse(w http.ResponseWriter) error   { return r.visit(w) }
func (r reply) VisitDeleteProductGroupsResponse(w http.ResponseWriter) error  { return r.visit(w) }
func (r reply) VisitDeleteProductResponse(w http.ResponseWriter) error        { return r.visit(w) }
func (r reply) VisitDeleteProductsResponse(w http.ResponseWriter) error       { return r.visit(w) }
func (r reply) VisitGetBulkResponse(w http.ResponseWriter) error              { return r.visit(w) }
func (r reply) VisitGetDeviceResponse(w http.ResponseWriter) error            { return r.visit(w) }
func (r reply) VisitGetEmployeeResponse(w http.ResponseWriter) error          { return r.visit(w) }
func (r reply) VisitGetProductGroupResponse(w http.ResponseWriter) error      { return r.visit(w) }
func (r reply) VisitGetProductResponse(w http.ResponseWriter) error           { return r.visit(w) }
func (r reply) VisitGetStoreDocumentResponse(w http.ResponseWriter) error     { return r.visit(w) }
func (r reply) VisitGetStoreResponse(w http.ResponseWriter) error             { return r.visit(w) }
func (r reply) VisitListDeviceDocumentsResponse(w http.ResponseWriter) error  { return r.visit(w) }
func (r reply) VisitListDevicesResponse(w http.ResponseWriter) error          { return r.visit(w) }
func (r reply) VisitListEmployeesResponse(w http.ResponseWriter) error        { return r.visit(w) }
func (r reply) VisitListProductGroupsResponse(w http.ResponseWriter) error    { return r.visit(w) }
func (r reply) VisitListProductsResponse(w http.ResponseWriter) error         { return r.visit(w) }
func (r reply) VisitListStoreDocumentsResponse(w http.ResponseWriter) error   { return r.visit(w) }
func (r reply) VisitListStoresResponse(w http.ResponseWriter) error           { return r.visit(w) }
func (r reply) VisitReplaceProductGroupResponse(w http.ResponseWriter) error  { return r.visit(w) }
func (r reply) VisitReplaceProductGroupsResponse(w http.ResponseWriter) error { return r.visit(w) }
func (r reply) VisitReplaceProductResponse(w http.ResponseWriter) error       { return r.visit(w) }
func (r reply) VisitReplaceProductsResponse(w http.ResponseWriter) error      { return r.visit(w) }
func (r reply) VisitUpdateProductGroupResponse(w http.ResponseWriter) error   { return r.visit(w) }
func (r reply) VisitUpdateProductResponse(w http.ResponseWriter) error        { return r.visit(w) }
