// Package problem writes RFC 9457 problem details: the body of every error
// the gateway answers.
package problem

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
)

// ContentType is the media type of a problem body.
const ContentType = "application/problem+json"

// Details is an RFC 9457 problem document. Its fields are in the order the
// gateway contract lists them, so bodies read the same in every gateway.
type Details struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Instance  string `json:"instance"`
	RequestID string `json:"request_id"`
}

// titles holds the RFC 9110 reason phrases. net/http's StatusText still uses
// older names for some of them ("Request Entity Too Large").
var titles = map[int]string{
	http.StatusBadRequest:            "Bad Request",
	http.StatusUnauthorized:          "Unauthorized",
	http.StatusNotFound:              "Not Found",
	http.StatusMethodNotAllowed:      "Method Not Allowed",
	http.StatusRequestEntityTooLarge: "Content Too Large",
	http.StatusUnsupportedMediaType:  "Unsupported Media Type",
	http.StatusUnprocessableEntity:   "Unprocessable Content",
	http.StatusTooManyRequests:       "Too Many Requests",
	http.StatusInternalServerError:   "Internal Server Error",
	http.StatusBadGateway:            "Bad Gateway",
	http.StatusServiceUnavailable:    "Service Unavailable",
	http.StatusGatewayTimeout:        "Gateway Timeout",
}

// QuotaExceeded is the type of a 429 problem: the IETF RateLimit header
// fields draft's problem type for a client over its quota.
const QuotaExceeded = "https://iana.org/assignments/http-problem-types#quota-exceeded"

// Title returns the title of a problem with the given status.
func Title(status int) string {
	if t, ok := titles[status]; ok {
		return t
	}
	return http.StatusText(status)
}

// New returns the problem for status, about the request at instance. Its
// type is about:blank (the status says it all), but for a 429: QuotaExceeded.
func New(status int, detail, instance, requestID string) Details {
	typ := "about:blank"
	if status == http.StatusTooManyRequests {
		typ = QuotaExceeded
	}
	return Details{
		Type:      typ,
		Title:     Title(status),
		Status:    status,
		Detail:    detail,
		Instance:  instance,
		RequestID: requestID,
	}
}

// Write sends p as the whole response. A 503 also gets Retry-After: 1.
func Write(w http.ResponseWriter, p Details) {
	body, err := Marshal(p)
	if err != nil {
		// Details holds only strings and an int: it always encodes.
		panic(err)
	}
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if p.Status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1")
	}
	w.WriteHeader(p.Status)
	w.Write(body)
}

// Marshal encodes v as compact JSON without HTML escaping and without a
// trailing newline: the bytes JSON.stringify gives in the Node.js gateway.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
