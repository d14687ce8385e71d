// Package docs renders the contract for its readers: /docs, one self-contained reference page
// built once at start-up from the embedded spec.
package docs

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/yuin/goldmark"
)

// The page is html/template with Markdown through goldmark and inline CSS.

//go:embed page.html.tmpl
var docsTemplateText string

var docsTemplate = template.Must(template.New("docs").Parse(docsTemplateText))

type docPage struct {
	Title, Version string
	Intro          template.HTML
	Schemes        []docScheme
	Tags           []docTag
}

// docScheme is a credential: a security scheme of the spec.
type docScheme struct {
	Name, Kind  string
	Description template.HTML
}

type docTag struct {
	Name        string
	Description template.HTML
	Operations  []docOperation
}

type docOperation struct {
	Anchor, Method, Path string
	Summary              template.HTML
	Description          template.HTML
	Credentials          []docScheme // the alternatives: any one of them is enough
	Parameters           []docRow
	Body                 *docBody
	Requests             []docExample
	Responses            []docResponse
	Errors               []docError // the operation's x-evotor-codes: every answer but success
}

// docError is one row of an operation's error table: an answer other than success, the code
// its envelope carries and when it is given.
type docError struct {
	Status, Class, Code string
	When                template.HTML
}

// PathBreaks is the path with line-break opportunities after each slash, for the narrow
// table of contents.
func (o docOperation) PathBreaks() template.HTML {
	return template.HTML(strings.ReplaceAll(template.HTMLEscapeString(o.Path), "/", "/<wbr>"))
}

// CredentialNames is the short form the table of contents shows ("appToken or appBasic").
func (o docOperation) CredentialNames() string {
	names := make([]string, len(o.Credentials))
	for i, c := range o.Credentials {
		names[i] = c.Name
	}
	return strings.Join(names, " or ")
}

type docBody struct {
	MediaType  string
	Required   bool
	Shape      string
	Difference template.HTML // the body schema's x-evotor-difference
	Rows       []docRow
}

type docResponse struct {
	Status, Class string
	Success       bool // 2xx: its fields are shown unfolded
	Description   template.HTML
	Codes         []string // legacy response-level x-evotor-codes the operation's table does not list
	MediaType     string
	Shape         string
	Difference    template.HTML
	Rows          []docRow
	Examples      []docExample
}

// docExample is one exchange as it goes over the wire: a request or a response, headers and body.
type docExample struct {
	Title, Text string
	Description template.HTML // the example's own description, if the spec gives one
}

// docRow is one line of a field table; Depth indents nested fields under their parent.
type docRow struct {
	Depth      int
	Name, Type string
	In         string // parameters only: path, query, header
	Option     bool   // an alternative of a oneOf/anyOf, not a field
	Required   bool
	Nullable   bool
	Enum       []string
	Facts      []string // default, bounds, pattern, extra keys
	// Description is the field's own description or, without one, its type's (the $ref'd
	// schema's); TypeDescription is the type's when the field has words of its own too.
	Description, TypeDescription template.HTML
	Difference                   template.HTML // x-evotor-difference: where and why we differ from Evotor's reference
}

// Page renders the reference page of spec: one HTML document, no script, no external resource.
func Page(spec *openapi3.T) ([]byte, error) {
	page := docPage{Title: spec.Info.Title, Version: spec.Info.Version, Intro: markdown(spec.Info.Description)}
	for _, name := range sortedKeys(spec.Components.SecuritySchemes) {
		page.Schemes = append(page.Schemes, scheme(name, spec.Components.SecuritySchemes[name]))
	}
	byTag := map[string]int{}
	for _, t := range spec.Tags {
		byTag[t.Name] = len(page.Tags)
		page.Tags = append(page.Tags, docTag{Name: t.Name, Description: markdown(t.Description)})
	}
	for _, path := range sortedKeys(spec.Paths.Map()) {
		item := spec.Paths.Value(path)
		for _, method := range sortedKeys(item.Operations()) {
			op := item.GetOperation(method)
			tag := "other" // an operation without a declared tag still gets documented
			if len(op.Tags) > 0 {
				tag = op.Tags[0]
			}
			i, ok := byTag[tag]
			if !ok {
				i, byTag[tag] = len(page.Tags), len(page.Tags)
				page.Tags = append(page.Tags, docTag{Name: tag})
			}
			page.Tags[i].Operations = append(page.Tags[i].Operations, operation(spec, method, path, op))
		}
	}
	var buf bytes.Buffer
	if err := docsTemplate.Execute(&buf, page); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func operation(spec *openapi3.T, method, path string, op *openapi3.Operation) docOperation {
	d := docOperation{Anchor: op.OperationID, Method: method, Path: path, Summary: inlineMarkdown(op.Summary),
		Description: markdown(op.Description), Credentials: credentials(spec, op), Errors: errorTable(op.Extensions[codesExtension])}
	for _, p := range op.Parameters {
		row := field(p.Value.Name, p.Value.Schema, p.Value.Required, 0)
		row.In = p.Value.In
		if p.Value.Description != "" {
			if row.TypeDescription == "" && row.Description != markdown(p.Value.Description) {
				row.TypeDescription = row.Description // the schema's words stay, after the parameter's
			}
			row.Description = markdown(p.Value.Description)
		}
		if diff := extensionText(p.Value.Extensions, differenceExtension); diff != "" {
			row.Difference = inlineMarkdown(diff)
		}
		d.Parameters = append(d.Parameters, row)
	}
	d.Parameters = describeOnce(d.Parameters)
	var bodyExamples []docExample
	if op.RequestBody != nil {
		rb := op.RequestBody.Value
		for _, mediaType := range sortedKeys(rb.Content) {
			mt := rb.Content[mediaType]
			d.Body = &docBody{MediaType: mediaType, Required: rb.Required, Shape: shape(mt.Schema),
				Difference: inlineMarkdown(difference(mt.Schema)), Rows: fieldRows(mt.Schema)}
			bodyExamples = examples(mt)
			break // the spec's bodies have one media type; the first is the one documented
		}
	}
	d.Requests = requestExamples(method, path, op, d.Credentials, d.Body, bodyExamples)
	for _, status := range sortedKeys(op.Responses.Map()) {
		d.Responses = append(d.Responses, response(status, op.Responses.Value(status).Value, d.Errors))
	}
	return d
}

// The spec's own extensions.
const (
	// codesExtension on an operation: a list of {code, status, when}, one per answer other
	// than success (code is Evotor's error code, or the HTTP status for answers Evotor has no
	// code for; when is Markdown). On a response (the older form, read while specs still carry
	// it): a list of the codes alone.
	codesExtension = "x-evotor-codes"
	// differenceExtension on a property, parameter or schema: where and why our schema
	// deliberately differs from Evotor's reference (Markdown).
	differenceExtension = "x-evotor-difference"
)

// errorTable reads an operation's x-evotor-codes, ordered by status (entries of one status in
// the spec's order). It shows what it finds: an entry that lacks a field shows a dash there
// (tests/descriptions_test.go is what insists on complete entries).
func errorTable(ext any) []docError {
	list, _ := ext.([]any)
	var out []docError
	for _, e := range list {
		entry, ok := e.(map[string]any)
		if !ok {
			continue
		}
		row := docError{Status: "–", Class: "s0", Code: "–"}
		if status, ok := integer(entry["status"]); ok {
			row.Status = strconv.Itoa(status)
			row.Class = "s" + row.Status[:1]
		}
		if code, ok := integer(entry["code"]); ok {
			row.Code = strconv.Itoa(code)
		}
		if when, ok := entry["when"].(string); ok {
			row.When = inlineMarkdown(when)
		}
		out = append(out, row)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Status < out[j].Status })
	return out
}

// integer is a whole number as a decoded extension holds it (JSON numbers are float64; a
// spec built in Go may hold ints; a quoted status such as '409' is read too).
func integer(v any) (int, bool) {
	switch n := v.(type) {
	case float64:
		if n == float64(int(n)) {
			return int(n), true
		}
	case int:
		return n, true
	case int64:
		return int(n), true
	case json.Number:
		i, err := n.Int64()
		return int(i), err == nil
	case string:
		i, err := strconv.Atoi(n)
		return i, err == nil
	}
	return 0, false
}

// extensionText is a string extension, trimmed; "" when absent or not a string.
func extensionText(ext map[string]any, name string) string {
	s, _ := ext[name].(string)
	return strings.TrimSpace(s)
}

// difference is a schema's x-evotor-difference: the one written next to its $ref, else its
// own (for a $ref, the named schema's).
func difference(s *openapi3.SchemaRef) string {
	if s == nil {
		return ""
	}
	if d := extensionText(s.Extensions, differenceExtension); d != "" {
		return d
	}
	if s.Value != nil {
		return extensionText(s.Value.Extensions, differenceExtension)
	}
	return ""
}

// credentials lists the operation's security alternatives with their schemes' descriptions
// (an alternative that combines schemes is shown as the first of them).
func credentials(spec *openapi3.T, op *openapi3.Operation) []docScheme {
	reqs := spec.Security
	if op.Security != nil {
		reqs = *op.Security
	}
	var out []docScheme
	for _, r := range reqs {
		for _, name := range sortedKeys(r) {
			out = append(out, scheme(name, spec.Components.SecuritySchemes[name]))
			break
		}
	}
	return out
}

func scheme(name string, ref *openapi3.SecuritySchemeRef) docScheme {
	if ref == nil || ref.Value == nil {
		return docScheme{Name: name}
	}
	s := ref.Value
	kind := s.Type
	if s.Type == "http" {
		kind = "HTTP " + s.Scheme
	}
	return docScheme{Name: name, Kind: kind, Description: markdown(s.Description)}
}

// response documents one declared response; errors is the operation's error table, whose
// entries of this status stand in for the response's own (legacy) x-evotor-codes.
func response(status string, r *openapi3.Response, errors []docError) docResponse {
	d := docResponse{Status: status, Class: "s" + status[:1], Success: status[:1] == "2"}
	if r.Description != nil {
		d.Description = markdown(*r.Description)
	}
	var listed []any // the codes the operation's table gives for this status
	for _, e := range errors {
		if e.Status == status {
			if c, err := strconv.Atoi(e.Code); err == nil {
				listed = append(listed, float64(c))
			}
		}
	}
	legacy, _ := r.Extensions[codesExtension].([]any)
	if len(listed) == 0 {
		for _, c := range legacy {
			if n, ok := integer(c); ok {
				d.Codes = append(d.Codes, strconv.Itoa(n))
			}
		}
	}
	code, _ := strconv.Atoi(status)
	head := fmt.Sprintf("HTTP/1.1 %s %s", status, http.StatusText(code))
	for _, mediaType := range sortedKeys(r.Content) {
		mt := r.Content[mediaType]
		d.MediaType, d.Shape, d.Rows = mediaType, shape(mt.Schema), fieldRows(mt.Schema)
		d.Difference = inlineMarkdown(difference(mt.Schema))
		d.Examples = examples(mt)
		if len(d.Examples) == 0 {
			d.Examples = envelopes(listed)
		}
		if len(d.Examples) == 0 {
			d.Examples = envelopes(legacy)
		}
		if len(d.Examples) == 0 {
			d.Examples = []docExample{{Title: "no example in the spec", Text: "…"}}
		}
		for i := range d.Examples {
			d.Examples[i].Text = head + "\nContent-Type: " + mediaType + "\n\n" + d.Examples[i].Text
		}
		break // one media type per response in this spec
	}
	if len(r.Content) == 0 {
		d.Examples = []docExample{{Title: "no body", Text: head}}
	}
	return d
}

// envelopes builds Evotor's error envelope for each code, for responses that carry no example
// of their own.
func envelopes(codes []any) []docExample {
	var out []docExample
	for _, c := range codes {
		code, ok := integer(c)
		if !ok {
			continue
		}
		body := map[string]any{"errors": []any{map[string]any{"code": code}}}
		out = append(out, docExample{Title: fmt.Sprintf("code %d", code), Text: pretty(body)})
	}
	return out
}

// examples are a media type's example and every one of its examples, by name, each titled
// by its summary (else its name) with its description, bodies pretty-printed.
func examples(mt *openapi3.MediaType) []docExample {
	var out []docExample
	if mt.Example != nil {
		out = append(out, docExample{Title: "example", Text: pretty(mt.Example)})
	}
	for _, name := range sortedKeys(mt.Examples) {
		ref := mt.Examples[name]
		if ref == nil || ref.Value == nil {
			continue
		}
		ex := ref.Value
		title := name
		if ex.Summary != "" {
			title = ex.Summary
		}
		out = append(out, docExample{Title: title, Text: pretty(ex.Value), Description: markdown(ex.Description)})
	}
	return out
}

// requestExamples writes the request as it goes over the wire: the path and query filled in
// from the parameters' examples, the first credential's header, each body example.
func requestExamples(method, path string, op *openapi3.Operation, creds []docScheme, body *docBody, bodies []docExample) []docExample {
	query := url.Values{}
	for _, p := range op.Parameters {
		v := p.Value
		value := "{" + v.Name + "}"
		if v.Example != nil {
			value = fmt.Sprint(v.Example)
		} else if !v.Required {
			continue
		}
		switch v.In {
		case openapi3.ParameterInPath:
			path = strings.ReplaceAll(path, "{"+v.Name+"}", url.PathEscape(value))
		case openapi3.ParameterInQuery:
			query.Set(v.Name, value)
		}
	}
	if len(query) > 0 {
		path += "?" + query.Encode()
	}
	head := method + " " + path + " HTTP/1.1"
	if len(creds) > 0 {
		head += "\nAuthorization: " + authorization(creds[0])
	}
	if body == nil {
		return []docExample{{Title: "request", Text: head}}
	}
	head += "\nContent-Type: " + body.MediaType + "\n\n"
	if len(bodies) == 0 {
		bodies = []docExample{{Title: "no example in the spec", Text: "…"}}
	}
	out := make([]docExample, len(bodies))
	for i, b := range bodies {
		out[i] = docExample{Title: b.Title, Text: head + b.Text, Description: b.Description}
	}
	return out
}

func authorization(s docScheme) string {
	switch s.Kind {
	case "HTTP bearer":
		return "Bearer <" + s.Name + ">"
	case "HTTP basic":
		return "Basic " + base64.StdEncoding.EncodeToString([]byte("<login>:<password>"))
	}
	return "<" + s.Name + ">"
}

// oneLine is how long a body may be to be shown on one line, as the server sends it (an error
// envelope); longer ones are indented for the reader.
const oneLine = 100

func pretty(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if short := literal(v); len(short) <= oneLine {
		return short
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// literal writes a value as JSON on one line, so "1" and 1 read differently.
func literal(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// maxSchemaDepth caps how deep nested fields are listed: a guard for recursive schemas.
const maxSchemaDepth = 6

// shape says what a schema is in a few words: "string (evotor-uuid)", "array of Receipt",
// "one of: Receipt | array of Receipt".
func shape(s *openapi3.SchemaRef) string {
	if s == nil || s.Value == nil {
		return "any"
	}
	if part := wrapped(s); part != nil {
		return shape(part)
	}
	v := s.Value
	switch {
	case len(v.OneOf) > 0:
		return "one of: " + shapes(v.OneOf)
	case len(v.AnyOf) > 0:
		return "any of: " + shapes(v.AnyOf)
	case len(v.AllOf) > 0:
		return "all of: " + shapes(v.AllOf)
	case v.Type.Is("array"):
		return "array of " + shape(v.Items)
	}
	t := strings.Join(v.Type.Slice(), " | ")
	if t == "" {
		t = "any"
	}
	if v.Format != "" {
		t += " (" + v.Format + ")"
	}
	if name := refName(s.Ref); name != "" && v.Type.Is("object") {
		t = name
	}
	return t
}

// wrapped is the one schema of `allOf: [X]` when that allOf is all the wrapper says of its
// type — the form OpenAPI 3.0 leaves for a $ref that needs words (or nullable) of its own.
func wrapped(s *openapi3.SchemaRef) *openapi3.SchemaRef {
	if s == nil || s.Value == nil || s.Ref != "" {
		return nil
	}
	v := s.Value
	if len(v.AllOf) != 1 || v.AllOf[0] == nil || v.AllOf[0].Value == nil || v.Type != nil ||
		len(v.Properties) > 0 || len(v.OneOf) > 0 || len(v.AnyOf) > 0 || v.Items != nil {
		return nil
	}
	return v.AllOf[0]
}

func shapes(alts openapi3.SchemaRefs) string {
	out := make([]string, len(alts))
	for i, a := range alts {
		out[i] = shape(a)
	}
	return strings.Join(out, " | ")
}

func refName(ref string) string {
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		return ref[i+1:]
	}
	return ref
}

// fieldRows is the field table of a body: its nested fields, each description given once.
func fieldRows(s *openapi3.SchemaRef) []docRow {
	return describeOnce(children(s, 0, nil))
}

// describeOnce leaves out a description that a row above in the same table already gave for
// the same type (every id field would otherwise repeat the id's paragraph). A field's own
// words are kept; the paragraph of its type under them is given once, like any other.
func describeOnce(rows []docRow) []docRow {
	given := map[string]bool{}
	for i, r := range rows {
		if r.TypeDescription != "" {
			key := r.Type + "\x00" + string(r.TypeDescription)
			if given[key] {
				rows[i].TypeDescription = ""
			}
			given[key] = true
		}
		if r.Description == "" {
			continue
		}
		key := r.Type + "\x00" + string(r.Description)
		if given[key] {
			rows[i].Description = ""
			rows[i].Facts = append(rows[i].Facts, "described above")
		}
		given[key] = true
	}
	return rows
}

// children lists the fields nested in s, each followed by its own nested fields: an object's
// properties (required ones first, in their listed order), an array's items, every
// alternative of a oneOf/anyOf and every part of an allOf. seen holds the schemas being
// listed above this one, so a recursive schema stops instead of looping.
func children(s *openapi3.SchemaRef, depth int, seen []*openapi3.Schema) []docRow {
	if s == nil || s.Value == nil || depth > maxSchemaDepth || slices.Contains(seen, s.Value) {
		return nil
	}
	v := s.Value
	seen = append(seen, v)
	var rows []docRow
	for _, part := range v.AllOf {
		rows = append(rows, children(part, depth, seen)...)
	}
	var listed []*openapi3.Schema // the alternatives' objects whose fields are listed already
	for i, alt := range append(slices.Clone(v.OneOf), v.AnyOf...) {
		nested := children(alt, depth+1, seen)
		if len(nested) == 0 {
			continue // a scalar alternative: the shape says it all
		}
		option := docRow{Depth: depth, Name: fmt.Sprintf("option %d", i+1), Type: shape(alt), Option: true}
		if j := slices.Index(listed, itemsOf(alt)); j >= 0 {
			option.Facts = []string{fmt.Sprintf("fields as in option %d", j+1)}
			nested = nil
		}
		listed = append(listed, itemsOf(alt))
		rows = append(append(rows, option), nested...)
	}
	if v.Type.Is("array") {
		rows = append(rows, children(v.Items, depth, seen)...)
	}
	for _, name := range propertyOrder(v) {
		p := v.Properties[name]
		rows = append(rows, field(name, p, slices.Contains(v.Required, name), depth))
		rows = append(rows, children(p, depth+1, seen)...)
	}
	if extra := v.AdditionalProperties.Schema; extra != nil {
		rows = append(rows, field("‹any other key›", extra, false, depth))
		rows = append(rows, children(extra, depth+1, seen)...)
	}
	return rows
}

// itemsOf is the schema of an array's items, or the schema itself: "one of: Receipt | array
// of Receipt" lists a Receipt's fields once.
func itemsOf(s *openapi3.SchemaRef) *openapi3.Schema {
	if s.Value.Type.Is("array") && s.Value.Items != nil {
		return s.Value.Items.Value
	}
	return s.Value
}

// propertyOrder puts the required properties first, as the spec lists them, then the rest
// alphabetically (the parsed spec no longer knows the order they were written in).
func propertyOrder(v *openapi3.Schema) []string {
	var out []string
	for _, name := range v.Required {
		if _, ok := v.Properties[name]; ok {
			out = append(out, name)
		}
	}
	for _, name := range sortedKeys(v.Properties) {
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// field is the row of one property or parameter: its shape and every constraint the schema
// states.
func field(name string, s *openapi3.SchemaRef, required bool, depth int) docRow {
	row := docRow{Depth: depth, Name: name, Type: shape(s), Required: required}
	if s == nil || s.Value == nil {
		return row
	}
	v := s.Value
	own, typ := descriptions(s)
	row.Description, row.TypeDescription = markdown(own), markdown(typ)
	if own == "" || own == typ {
		row.Description, row.TypeDescription = markdown(typ), ""
	}
	if diff := difference(s); diff != "" {
		row.Difference = inlineMarkdown(diff)
	} else if part := wrapped(s); part != nil {
		row.Difference = inlineMarkdown(difference(part))
	}
	row.Nullable = v.Nullable
	typed := v // the schema that states the type: the wrapped one for `allOf: [X]`
	if part := wrapped(s); part != nil {
		typed = part.Value
		row.Nullable = row.Nullable || typed.Nullable
	}
	for _, alt := range append(slices.Clone(typed.OneOf), typed.AnyOf...) {
		row.Nullable = row.Nullable || (alt.Value != nil && alt.Value.Nullable)
	}
	for _, e := range typed.Enum {
		row.Enum = append(row.Enum, literal(e))
	}
	row.Facts = facts(typed)
	if typed != v {
		row.Facts = append(row.Facts, facts(v)...) // the wrapper's own bounds, default, …
	}
	return row
}

// descriptions are a field's own words and its type's: for a bare $ref (whose siblings OpenAPI
// 3.0 ignores) only the named schema's; for `allOf: [X]` the wrapper's and X's; for an array
// the array's and its items'.
func descriptions(s *openapi3.SchemaRef) (own, typ string) {
	v := s.Value
	if s.Ref != "" {
		return "", strings.TrimSpace(v.Description)
	}
	own = strings.TrimSpace(v.Description)
	if part := wrapped(s); part != nil {
		typ = strings.TrimSpace(part.Value.Description)
	} else if v.Items != nil && v.Items.Value != nil {
		typ = strings.TrimSpace(v.Items.Value.Description)
	}
	return own, typ
}

func facts(v *openapi3.Schema) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if v.Default != nil {
		add("default %s", literal(v.Default))
	}
	if v.Min != nil {
		add("%s %v", map[bool]string{false: "≥", true: ">"}[v.ExclusiveMin.IsTrue()], *v.Min)
	}
	if v.Max != nil {
		add("%s %v", map[bool]string{false: "≤", true: "<"}[v.ExclusiveMax.IsTrue()], *v.Max)
	}
	if v.MinLength == 1 {
		add("non-empty")
	} else if v.MinLength > 1 {
		add("at least %d characters", v.MinLength)
	}
	if v.MaxLength != nil {
		add("at most %d characters", *v.MaxLength)
	}
	if v.MinItems > 0 {
		add("at least %d item(s)", v.MinItems)
	}
	if v.MaxItems != nil {
		add("at most %d item(s)", *v.MaxItems)
	}
	if v.Pattern != "" {
		add("pattern %s", v.Pattern)
	}
	if has := v.AdditionalProperties.Has; has != nil && *has && len(v.Properties) > 0 {
		add("other keys are accepted")
	} else if has != nil && !*has {
		add("no other keys")
	}
	return out
}

var markdownRenderer = goldmark.New() // CommonMark; raw HTML in the spec is left out

// markdown renders a description written in Markdown.
func markdown(s string) template.HTML {
	if strings.TrimSpace(s) == "" {
		return ""
	}
	var buf bytes.Buffer
	if err := markdownRenderer.Convert([]byte(s), &buf); err != nil {
		return template.HTML(template.HTMLEscapeString(s))
	}
	return template.HTML(buf.String()) // goldmark escapes text and drops raw HTML
}

// inlineMarkdown renders a one-line text (a summary) without its paragraph.
func inlineMarkdown(s string) template.HTML {
	h := strings.TrimSpace(string(markdown(s)))
	if inner, ok := strings.CutPrefix(h, "<p>"); ok && strings.Count(h, "<p>") == 1 {
		h = strings.TrimSuffix(inner, "</p>")
	}
	return template.HTML(h)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
