// Package openapi holds the contract exactly as written, so the server can serve the file
// itself (comments, key order, operationIds) rather than a re-serialisation of the parsed spec.
package openapi

import _ "embed"

// YAML is openapi.yaml, byte for byte.
//
//go:embed openapi.yaml
var YAML []byte
