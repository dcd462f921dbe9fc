package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strings"
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
	// "required" on an optional field means present and not null.
	v.RegisterCustomTypeFunc(func(f reflect.Value) any {
		o := f.Interface().(optional[string])
		if !o.present() {
			return nil
		}
		return o.Value
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
