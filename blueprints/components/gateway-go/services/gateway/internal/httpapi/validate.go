package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
)

// MaxInstances is the most rows one predict request may hold.
const MaxInstances = 256

// errNotJSON means the body is not valid JSON (400).
var errNotJSON = errors.New("the body is not valid JSON")

// shapeError means the body is valid JSON of the wrong shape (422).
type shapeError struct{ msg string }

func (e *shapeError) Error() string { return e.msg }

func shapef(format string, args ...any) error {
	return &shapeError{fmt.Sprintf(format, args...)}
}

// isJSON reports whether a Content-Type header names application/json,
// whatever its parameters (charset=utf-8).
func isJSON(contentType string) bool {
	mediaType, _, err := mime.ParseMediaType(contentType)
	return err == nil && mediaType == "application/json"
}

// validatePredict checks a predict body against the contract: a JSON object
// with exactly the key "instances", an array of 1..MaxInstances rows, each
// a non-empty array of JSON numbers. It returns errNotJSON or a *shapeError.
func validatePredict(body []byte) error {
	if !json.Valid(body) {
		return errNotJSON
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // keep numbers as written: no float64 overflow surprises
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return errNotJSON
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return shapef(`the body must be a JSON object with the key "instances"`)
	}
	for key := range obj {
		if key != "instances" {
			return shapef(`unexpected key %q: the body may only hold "instances"`, key)
		}
	}
	rows, ok := obj["instances"].([]any)
	if !ok {
		return shapef(`"instances" must be an array of rows`)
	}
	if len(rows) < 1 || len(rows) > MaxInstances {
		return shapef(`"instances" must hold 1 to %d rows, not %d`, MaxInstances, len(rows))
	}
	for i, r := range rows {
		row, ok := r.([]any)
		if !ok || len(row) == 0 {
			return shapef(`instances[%d] must be a non-empty array of numbers`, i)
		}
		for j, v := range row {
			if _, ok := v.(json.Number); !ok {
				return shapef(`instances[%d][%d] must be a number`, i, j)
			}
		}
	}
	return nil
}
