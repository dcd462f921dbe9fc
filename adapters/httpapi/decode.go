package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/go-playground/validator/v10"
)

// MaxBodyBytes is the largest request body accepted (64 KiB); larger gets 413.
const MaxBodyBytes = 64 << 10

// optional is a JSON field that knows whether it was present and whether it
// was null, so PATCH can tell "absent" from "null" from a value.
type optional[T any] struct {
	Set   bool
	Null  bool
	Value T
}

// UnmarshalJSON records presence; encoding/json calls it for null too.
func (o *optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// present reports whether the field was given with a non-null value.
func (o optional[T]) present() bool { return o.Set && !o.Null }

// decoder checks a request body's shape: content type, size, UTF-8, JSON
// syntax, field types, unknown fields and required fields. The field rules
// themselves live in the domain parsers, called by the converters.
type decoder struct{ validate *validator.Validate }

func newDecoder() *decoder {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		return strings.Split(f.Tag.Get("json"), ",")[0]
	})
	// "required" on an optional field means present and not null; an empty
	// string is present, and the field's own rule says what is wrong with it.
	v.RegisterCustomTypeFunc(func(f reflect.Value) any {
		if o := f.Interface().(optional[string]); o.present() {
			return true
		}
		return nil
	}, optional[string]{})
	return &decoder{validate: v}
}

// decode fills dst, a pointer to a request struct whose fields are
// optional[string] with json tags. It returns a *badRequest with status 415,
// 413 or 400 when the body cannot be read as that struct, and otherwise the
// 422 field errors found so far (unknown and missing fields), for the caller
// to extend with the domain's rule failures.
func (d *decoder) decode(c *gin.Context, dst any) ([]fieldError, error) {
	mediaType, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || (mediaType != "application/json" && !strings.HasSuffix(mediaType, "+json")) {
		return nil, &badRequest{status: http.StatusUnsupportedMediaType, detail: "Content-Type must be application/json"}
	}
	if !identityCoded(c.Request.Header.Values("Content-Encoding")) {
		// RFC 9110 section 12.5.3: say which content codings are accepted.
		c.Header("Accept-Encoding", "identity")
		return nil, &badRequest{status: http.StatusUnsupportedMediaType, detail: "Content-Encoding is not supported: send the body uncompressed"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &badRequest{status: http.StatusRequestEntityTooLarge, detail: "request body is larger than 64 KiB"}
		}
		return nil, &badRequest{status: http.StatusBadRequest, detail: "request body could not be read"}
	}
	if !utf8.Valid(body) {
		return nil, &badRequest{status: http.StatusBadRequest, detail: "request body is not valid UTF-8"}
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, &badRequest{status: http.StatusBadRequest, detail: "request body must be a JSON object"}
		}
		return nil, &badRequest{status: http.StatusBadRequest, detail: "request body is not valid JSON"}
	}
	if raw == nil {
		return nil, &badRequest{status: http.StatusBadRequest, detail: "request body must be a JSON object"}
	}
	if field, found := loneSurrogateMember(body); found {
		return nil, &badRequest{status: http.StatusBadRequest, detail: "a string is not valid Unicode",
			fields: []fieldError{{Field: field, Message: "contains an unpaired UTF-16 surrogate escape"}}}
	}

	var typeErrors, fields []fieldError
	known := map[string]bool{}
	v := reflect.ValueOf(dst).Elem()
	for i := 0; i < v.NumField(); i++ {
		name := strings.Split(v.Type().Field(i).Tag.Get("json"), ",")[0]
		known[name] = true
		value, ok := raw[name]
		if !ok {
			continue
		}
		if err := json.Unmarshal(value, v.Field(i).Addr().Interface()); err != nil {
			typeErrors = append(typeErrors, fieldError{Field: name, Message: "must be a string or null"})
		}
	}
	if len(typeErrors) > 0 {
		sortFields(typeErrors)
		return nil, &badRequest{status: http.StatusBadRequest, detail: "a field has the wrong JSON type", fields: typeErrors}
	}
	for name := range raw {
		if !known[name] {
			fields = append(fields, fieldError{Field: name, Message: "is not a known field"})
		}
	}
	sortFields(fields)
	if err := d.validate.Struct(dst); err != nil {
		var verrs validator.ValidationErrors
		if !errors.As(err, &verrs) {
			return nil, err
		}
		for _, fe := range verrs {
			fields = append(fields, fieldError{Field: fe.Field(), Message: "is required"})
		}
	}
	return fields, nil
}

// identityCoded reports whether Content-Encoding values say the body is not
// content-coded: none, or only "identity". The service decodes no coding, so
// a compressed body is refused (415) rather than read as plain JSON.
func identityCoded(values []string) bool {
	for _, v := range values {
		for coding := range strings.SplitSeq(v, ",") {
			if coding = strings.TrimSpace(coding); coding != "" && !strings.EqualFold(coding, "identity") {
				return false
			}
		}
	}
	return true
}

// loneSurrogateMember finds, in body, a JSON object, a member whose name or
// value holds a string escape of an unpaired UTF-16 surrogate (such as
// "\ud800" alone), which encoding/json would silently turn into U+FFFD, so
// that two different inputs would read as one. I-JSON (RFC 7493) forbids
// them. It returns the member's name (as decoded) and whether one was found.
func loneSurrogateMember(body []byte) (string, bool) {
	if !hasLoneSurrogate(body) {
		return "", false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil { // the opening brace
		return "", true
	}
	for dec.More() {
		start := dec.InputOffset()
		name, err := dec.Token()
		if err != nil {
			break
		}
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			break
		}
		if hasLoneSurrogate(body[start:dec.InputOffset()]) {
			key, _ := name.(string)
			return key, true
		}
	}
	return "", true
}

// hasLoneSurrogate reports whether JSON text b, starting outside a string,
// holds a \u escape of a surrogate that is not a high surrogate followed
// at once by an escaped low one.
func hasLoneSurrogate(b []byte) bool {
	inString := false
	for i := 0; i < len(b); i++ {
		switch {
		case b[i] == '"':
			inString = !inString
		case inString && b[i] == '\\':
			if r := hexEscape(b, i); utf16.IsSurrogate(r) {
				if low := hexEscape(b, i+6); r >= 0xDC00 || low < 0xDC00 || low > 0xDFFF {
					return true // a low half first, or a high half without its low half
				}
				i += 6 // past the high half; the low half is checked
			}
			i++ // past the escaped character
		}
	}
	return false
}

// hexEscape returns the code unit of the \uXXXX escape at b[i:], or -1.
func hexEscape(b []byte, i int) rune {
	if i+6 > len(b) || b[i] != '\\' || b[i+1] != 'u' {
		return -1
	}
	v, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 16)
	if err != nil {
		return -1
	}
	return rune(v)
}

func sortFields(f []fieldError) {
	slices.SortFunc(f, func(a, b fieldError) int { return strings.Compare(a.Field, b.Field) })
}

// fieldErrors gathers 422 field errors in request order.
type fieldErrors []fieldError

func (f *fieldErrors) add(field string, err error) {
	if err != nil {
		*f = append(*f, fieldError{Field: field, Message: err.Error()})
	}
}

// parse runs a domain parser on a field that is present and not null,
// recording its error under the field's JSON name; otherwise it returns T's
// zero value (a missing required field is reported by the decoder).
func parse[T any](errs *fieldErrors, name string, f optional[string], parser func(string) (T, error)) T {
	var v T
	if f.present() {
		var err error
		v, err = parser(f.Value)
		errs.add(name, err)
	}
	return v
}

// err returns a 422 *badRequest listing every field, or nil.
func (f fieldErrors) err() error {
	if len(f) == 0 {
		return nil
	}
	return &badRequest{status: http.StatusUnprocessableEntity, detail: "request body failed validation", fields: f}
}
