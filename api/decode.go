package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
)

// MaxJSONBody is the largest JSON request body accepted.
const MaxJSONBody = 1 << 20

// decodeJSON reads a JSON body strictly: at most 1 MiB, unknown fields
// rejected, nothing after the value. On failure it writes the error and
// returns false.
func decodeJSON(c *gin.Context, v any) bool {
	if err := DecodeStrict(http.MaxBytesReader(c.Writer, c.Request.Body, MaxJSONBody), v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(c, http.StatusRequestEntityTooLarge, CodeBodyTooLarge,
				fmt.Sprintf("JSON body larger than %d bytes", MaxJSONBody), map[string]any{"limit": MaxJSONBody})
			return false
		}
		writeError(c, http.StatusBadRequest, CodeInvalidJSON, err.Error(), nil)
		return false
	}
	return true
}

// DecodeStrict decodes exactly one JSON value with unknown fields rejected.
func DecodeStrict(r io.Reader, v any) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if trimmed := bytes.TrimLeft(data, " \t\r\n"); len(trimmed) > 0 && trimmed[0] != '{' {
		return errors.New("request body must be a JSON object")
	}
	if err := exactFieldNames(data, reflect.TypeOf(v)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return err
		case errors.Is(err, io.EOF):
			return errors.New("request body is empty; a JSON object is required")
		case errors.As(err, &syn):
			return fmt.Errorf("malformed JSON at byte %d", syn.Offset)
		case errors.As(err, &typ):
			return fmt.Errorf("field %q must be %s", typ.Field, typ.Type)
		}
		return fmt.Errorf("invalid JSON body: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return err
		}
		return errors.New("request body has data after the JSON value")
	}
	return nil
}

// queryInt parses an optional non-negative integer query parameter.
func queryInt(c *gin.Context, name string, def, max int) (int, bool) {
	s := c.Query(name)
	if s == "" {
		return def, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > max {
		writeError(c, http.StatusBadRequest, CodeInvalidInput, fmt.Sprintf("query parameter %s must be an integer from 0 to %d", name, max), map[string]any{"parameter": name})
		return 0, false
	}
	return n, true
}

// emptyBody tolerates an absent body for POSTs whose fields are optional.
func emptyBody(c *gin.Context) bool {
	if c.Request.ContentLength == 0 {
		return true
	}
	if c.Request.ContentLength > 0 {
		return false
	}
	// Unknown length: peek.
	var b [1]byte
	n, _ := c.Request.Body.Read(b[:])
	if n == 0 {
		return true
	}
	c.Request.Body = io.NopCloser(io.MultiReader(bytes.NewReader(b[:n]), c.Request.Body))
	return false
}

// exactFieldNames refuses object keys that only match a field name
// case-insensitively ({"VERSION": …}): encoding/json would accept them.
func exactFieldNames(data []byte, t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		var obj map[string]json.RawMessage
		if json.Unmarshal(data, &obj) != nil {
			return nil // not an object: the decoder says what is wrong
		}
		fields := map[string]reflect.Type{}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			fields[name] = f.Type
		}
		for k, raw := range obj {
			ft, ok := fields[k]
			if !ok {
				return fmt.Errorf("unknown field %q", k)
			}
			if err := exactFieldNames(raw, ft); err != nil {
				return err
			}
		}
	case reflect.Slice:
		var items []json.RawMessage
		if json.Unmarshal(data, &items) != nil {
			return nil
		}
		for _, it := range items {
			if err := exactFieldNames(it, t.Elem()); err != nil {
				return err
			}
		}
	}
	return nil
}
