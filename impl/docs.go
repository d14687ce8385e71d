package impl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"slices"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"gopkg.in/yaml.v3"

	"github.com/evotor-partner/evotor-partner/generated"
)

// The server serves its own contract: /openapi.yaml and a reference page at /docs, rendered
// once at start-up from the embedded spec with html/template — no script, no CDN.

type contract struct {
	yaml []byte
	html []byte
}

type docPage struct {
	Title, Version string
	Tags           []docTag
}

type docTag struct {
	Name, Description string
	Operations        []docOperation
}

type docOperation struct {
	Method, Path, ID, Summary string
	Credentials               []string
	BodyNote                  string
	Fields                    []docField
	Responses                 []docResponse
}

type docField struct {
	Name, Type, Description string
	Required                bool
}

type docResponse struct {
	Status, Description string
	Codes               []int
}

func renderContract(spec *openapi3.T) (contract, error) {
	var c contract
	raw, err := generated.PathToRawSpec("spec")["spec"]()
	if err != nil {
		return c, err
	}
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		return c, err
	}
	if c.yaml, err = yaml.Marshal(tree); err != nil {
		return c, err
	}
	page := docPage{Title: spec.Info.Title, Version: spec.Info.Version}
	byTag := map[string]*docTag{}
	for _, t := range spec.Tags {
		page.Tags = append(page.Tags, docTag{Name: t.Name, Description: t.Description})
	}
	for i := range page.Tags {
		byTag[page.Tags[i].Name] = &page.Tags[i]
	}
	paths := spec.Paths.InMatchingOrder()
	sort.Strings(paths)
	for _, path := range paths {
		item := spec.Paths.Value(path)
		methods := make([]string, 0, len(item.Operations()))
		for m := range item.Operations() {
			methods = append(methods, m)
		}
		sort.Strings(methods)
		for _, m := range methods {
			op := item.GetOperation(m)
			d := docOperation{Method: m, Path: path, ID: op.OperationID, Summary: op.Summary, Credentials: credentials(spec, op)}
			if op.RequestBody != nil {
				if mt := op.RequestBody.Value.Content.Get("application/json"); mt != nil {
					d.BodyNote, d.Fields = fields(mt.Schema)
				}
			}
			for _, p := range op.Parameters {
				d.Fields = append(d.Fields, docField{Name: p.Value.Name + " (" + p.Value.In + ")", Type: typeOf(p.Value.Schema),
					Required: p.Value.Required, Description: p.Value.Description})
			}
			d.Responses = responses(op)
			if len(op.Tags) > 0 && byTag[op.Tags[0]] != nil {
				byTag[op.Tags[0]].Operations = append(byTag[op.Tags[0]].Operations, d)
			}
		}
	}
	var buf bytes.Buffer
	if err := docsTemplate.Execute(&buf, page); err != nil {
		return c, err
	}
	c.html = buf.Bytes()
	return c, nil
}

// credentials describes the operation's security alternatives ("none" when it has none).
func credentials(spec *openapi3.T, op *openapi3.Operation) []string {
	reqs := spec.Security
	if op.Security != nil {
		reqs = *op.Security
	}
	var out []string
	for _, r := range reqs {
		for name := range r {
			desc := name
			if s := spec.Components.SecuritySchemes[name]; s != nil && s.Value != nil {
				desc = fmt.Sprintf("%s (%s %s): %s", name, s.Value.Type, s.Value.Scheme, strings.TrimSpace(s.Value.Description))
			}
			out = append(out, desc)
		}
	}
	if len(out) == 0 {
		return []string{"none"}
	}
	return out
}

// fields lists a body's top-level fields (an array's item fields; the first alternative of a
// oneOf/anyOf that has fields).
func fields(s *openapi3.SchemaRef) (string, []docField) {
	note := "a JSON object"
	v := s.Value
	if v.Type.Is("array") && v.Items != nil {
		note, v = "a JSON array of objects with", v.Items.Value
	}
	for _, alt := range append(v.OneOf, v.AnyOf...) {
		if len(v.Properties) == 0 && len(alt.Value.Properties) > 0 {
			note, v = "one object (or an array of them) with", alt.Value
		}
	}
	names := make([]string, 0, len(v.Properties))
	for n := range v.Properties {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]docField, 0, len(names))
	for _, n := range names {
		p := v.Properties[n]
		out = append(out, docField{Name: n, Type: typeOf(p), Required: slices.Contains(v.Required, n), Description: p.Value.Description})
	}
	if v.AdditionalProperties.Has == nil || *v.AdditionalProperties.Has {
		note += " (other fields are accepted)"
	}
	return note, out
}

func typeOf(s *openapi3.SchemaRef) string {
	if s == nil || s.Value == nil {
		return "any"
	}
	v := s.Value
	var alts []string
	for _, a := range append(v.OneOf, v.AnyOf...) {
		alts = append(alts, typeOf(a))
	}
	t := strings.Join(v.Type.Slice(), "|")
	switch {
	case len(alts) > 0:
		t = strings.Join(alts, " or ")
	case v.Type.Is("array"):
		t = "array of " + typeOf(v.Items)
	case t == "":
		t = "any"
	}
	if v.Format != "" {
		t += " (" + v.Format + ")"
	}
	if v.Pattern != "" {
		t += " matching " + v.Pattern
	}
	if v.Nullable {
		t += ", or null"
	}
	return t
}

func responses(op *openapi3.Operation) []docResponse {
	var out []docResponse
	for status, r := range op.Responses.Map() {
		d := docResponse{Status: status}
		if r.Value.Description != nil {
			d.Description = *r.Value.Description
		}
		if codes, ok := r.Value.Extensions["x-evotor-codes"].([]any); ok {
			for _, c := range codes {
				if f, ok := c.(float64); ok {
					d.Codes = append(d.Codes, int(f))
				}
			}
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Status < out[j].Status })
	return out
}

var docsTemplate = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}} {{.Version}} — API reference</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#222}
h2{border-bottom:2px solid #ddd;padding-bottom:.2rem;margin-top:2.5rem}
section.op{border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem;margin:1rem 0}
.method{font-weight:bold;font-family:monospace;padding:.1rem .4rem;border-radius:3px;background:#eef}
code,.path{font-family:monospace}
table{border-collapse:collapse;width:100%;margin:.4rem 0}td,th{border-top:1px solid #eee;padding:.25rem .5rem;text-align:left;vertical-align:top}
.req{color:#b00;font-weight:bold}
</style></head><body>
<h1>{{.Title}} <small>{{.Version}}</small></h1>
<p>Rendered by the server from its embedded contract; the machine-readable version is <a href="/openapi.yaml">/openapi.yaml</a>.
Errors come in Evotor's envelope <code>{"errors":[{"code":N,"reason":"…","subject":"field"}]}</code>.</p>
{{range .Tags}}{{if .Operations}}<h2 id="{{.Name}}">{{.Name}}</h2><p>{{.Description}}</p>
{{range .Operations}}<section class="op" id="{{.ID}}">
<h3><span class="method">{{.Method}}</span> <span class="path">{{.Path}}</span></h3>
<p>{{.Summary}} <small>(operationId <code>{{.ID}}</code>)</small></p>
<p><b>Credential:</b> {{range $i, $c := .Credentials}}{{if $i}} <i>or</i> {{end}}{{$c}}{{end}}</p>
{{if .Fields}}<p><b>Request:</b> {{.BodyNote}}</p><table><tr><th>field</th><th>type</th><th></th><th>about</th></tr>
{{range .Fields}}<tr><td><code>{{.Name}}</code></td><td>{{.Type}}</td><td>{{if .Required}}<span class="req">required</span>{{end}}</td><td>{{.Description}}</td></tr>
{{end}}</table>{{end}}
<p><b>Responses:</b></p><table>{{range .Responses}}<tr><td>{{.Status}}</td><td>{{.Description}}{{if .Codes}} — Evotor codes {{range $i, $c := .Codes}}{{if $i}}, {{end}}<code>{{$c}}</code>{{end}}{{end}}</td></tr>
{{end}}</table></section>
{{end}}{{end}}{{end}}
</body></html>
`))

// GetSpec serves the embedded contract as YAML.
func (s *Server) GetSpec(context.Context, generated.GetSpecRequestObject) (generated.GetSpecResponseObject, error) {
	return generated.GetSpec200ApplicationyamlResponse{Body: bytes.NewReader(s.contract.yaml), ContentLength: int64(len(s.contract.yaml))}, nil
}

// GetDocs serves the reference page.
func (s *Server) GetDocs(context.Context, generated.GetDocsRequestObject) (generated.GetDocsResponseObject, error) {
	return generated.GetDocs200TexthtmlResponse{Body: bytes.NewReader(s.contract.html), ContentLength: int64(len(s.contract.html))}, nil
}
