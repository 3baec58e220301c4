package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"mime"
	"strconv"
	"strings"
)

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
// with exactly the key "instances", an array of 1..maxRows rows, each a
// non-empty array of JSON numbers that fit a float64 (1e999 does not: the
// ML service would read it as infinity). It returns errNotJSON or a
// *shapeError.
//
// It reads the body once, typed, and keeps nothing: json.Valid first (a
// scan that allocates nothing), then a json.Decoder walks the object and
// the array of rows, and each row is checked by row.UnmarshalJSON on its
// raw bytes. No value is boxed in an interface, so the cost does not grow
// with the number of values. When "instances" appears twice the last one
// counts, as in the ML service's parser.
func validatePredict(body []byte, maxRows int) error {
	if !json.Valid(body) { // syntax first: 400 before 422
		return errNotJSON
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, _ := dec.Token(); tok != json.Delim('{') {
		return shapef(`the body must be a JSON object with the key "instances"`)
	}
	var (
		seen bool
		err  error // what is wrong with the last "instances"
	)
	for dec.More() {
		tok, _ := dec.Token()
		if key, _ := tok.(string); key != "instances" {
			return shapef(`unexpected key %.64q: the body may only hold "instances"`, tok)
		}
		seen = true
		err = validateRows(dec, maxRows)
	}
	if !seen {
		return shapef(`the body must be a JSON object with the key "instances"`)
	}
	return err
}

// validateRows reads the value of "instances" from dec, to its end.
func validateRows(dec *json.Decoder, maxRows int) error {
	tok, _ := dec.Token()
	if tok != json.Delim('[') {
		if tok == json.Delim('{') {
			skipObject(dec)
		}
		return shapef(`"instances" must be an array of rows`)
	}
	var (
		first error // the first bad row, reported when the count is right
		r     row
		n     int
	)
	for ; dec.More(); n++ {
		if err := dec.Decode(&r); err != nil {
			return errNotJSON // cannot happen: the body is valid JSON
		}
		if first == nil && n < maxRows {
			first = r.err(n)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing ']'
		return errNotJSON
	}
	if n < 1 || n > maxRows {
		return shapef(`"instances" must hold 1 to %d rows, not %d`, maxRows, n)
	}
	return first
}

// skipObject consumes the rest of an object whose '{' dec has just read.
func skipObject(dec *json.Decoder) {
	for dec.More() {
		if _, err := dec.Token(); err != nil { // the key
			return
		}
		var v row // any value, looked at and forgotten
		if err := dec.Decode(&v); err != nil {
			return
		}
	}
	dec.Token() //nolint:errcheck // the closing '}' of a valid body; the caller has its error
}

// row is what validation learns of one row of instances.
type row struct {
	notArray bool // not an array, or an empty one
	bad      int  // index of the first value that is not a finite number
	badKind  string
}

func (r *row) err(i int) error {
	switch {
	case r.notArray:
		return shapef(`instances[%d] must be a non-empty array of numbers`, i)
	case r.badKind != "":
		return shapef(`instances[%d][%d] %s`, i, r.bad, r.badKind)
	}
	return nil
}

// UnmarshalJSON reads a row from b, which json.Decoder has found to be
// one valid JSON value. It never fails: what is wrong is kept in r.
func (r *row) UnmarshalJSON(b []byte) error {
	*r = row{}
	b = skipSpace(b)
	if len(b) < 2 || b[0] != '[' {
		r.notArray = true
		return nil
	}
	b = skipSpace(b[1:])
	if b[0] == ']' {
		r.notArray = true
		return nil
	}
	for j := 0; ; j++ {
		// b starts a value. Valid JSON has no trailing comma, so after a
		// number comes ',' then a value, or the closing ']'.
		end := numberEnd(b)
		if end == 0 {
			r.bad, r.badKind = j, "must be a number"
			return nil
		}
		if !finite(b[:end]) {
			r.bad, r.badKind = j, "is not a finite number"
			return nil
		}
		b = skipSpace(b[end:])
		if len(b) == 0 || b[0] != ',' {
			return nil // ']'
		}
		b = skipSpace(b[1:])
	}
}

// numberEnd returns the length of the JSON number at the start of b, or 0
// when b does not start with one (a string, true, false, null, [ or {).
func numberEnd(b []byte) int {
	if len(b) == 0 || (b[0] != '-' && (b[0] < '0' || b[0] > '9')) {
		return 0
	}
	n := 1
	for n < len(b) && strings.IndexByte("0123456789.eE+-", b[n]) >= 0 {
		n++
	}
	return n
}

func skipSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}

// finite reports whether the JSON number b fits a float64. Numbers too
// small for one (1e-400) round to zero, as they do in Python.
func finite(b []byte) bool {
	f, err := strconv.ParseFloat(string(b), 64)
	return err == nil && !math.IsInf(f, 0)
}
