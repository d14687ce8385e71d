package impl

import (
	"bytes"
	"context"

	"github.com/evotor-partner/evotor-partner/generated"
	"github.com/evotor-partner/evotor-partner/openapi"
)

// The server serves its own contract: /openapi.yaml is the file as written, /docs the reference
// page impl/docs renders once at start-up.

// GetSpec serves the contract exactly as it is written in openapi/openapi.yaml.
func (s *Server) GetSpec(context.Context, generated.GetSpecRequestObject) (generated.GetSpecResponseObject, error) {
	return generated.GetSpec200ApplicationyamlResponse{Body: bytes.NewReader(openapi.YAML), ContentLength: int64(len(openapi.YAML))}, nil
}

// GetDocs serves the reference page.
func (s *Server) GetDocs(context.Context, generated.GetDocsRequestObject) (generated.GetDocsResponseObject, error) {
	return generated.GetDocs200TexthtmlResponse{Body: bytes.NewReader(s.docsPage), ContentLength: int64(len(s.docsPage))}, nil
}
