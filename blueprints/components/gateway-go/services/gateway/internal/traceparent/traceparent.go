// Package traceparent handles the W3C Trace Context traceparent header:
// the gateway forwards a valid one and starts a new trace otherwise.
package traceparent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
)

// Header is the name of the traceparent header.
const Header = "traceparent"

// Valid reports whether s is a traceparent the gateway may forward, per
// https://www.w3.org/TR/trace-context/#traceparent-header.
func Valid(s string) bool {
	// version "-" trace-id "-" parent-id "-" flags: 2+1+32+1+16+1+2.
	const size = 55
	if len(s) < size || s[2] != '-' || s[35] != '-' || s[52] != '-' {
		return false
	}
	version, traceID, parentID, flags := s[0:2], s[3:35], s[36:52], s[53:55]
	if !lowerHex(version) || version == "ff" || !lowerHex(flags) {
		return false
	}
	if !lowerHex(traceID) || allZero(traceID) || !lowerHex(parentID) || allZero(parentID) {
		return false
	}
	if version == "00" {
		return len(s) == size
	}
	// A later version may append fields, after a dash.
	return len(s) == size || s[size] == '-'
}

// New returns the traceparent of a new, sampled trace.
func New() string {
	var b [24]byte
	rand.Read(b[:])
	return "00-" + hex.EncodeToString(b[:16]) + "-" + hex.EncodeToString(b[16:]) + "-01"
}

// FromHeader returns value when it is valid, else a new traceparent.
func FromHeader(value string) string {
	if Valid(value) {
		return value
	}
	return New()
}

type contextKey struct{}

// NewContext returns a copy of ctx that carries tp.
func NewContext(ctx context.Context, tp string) context.Context {
	return context.WithValue(ctx, contextKey{}, tp)
}

// FromContext returns the traceparent carried by ctx, or "".
func FromContext(ctx context.Context) string {
	tp, _ := ctx.Value(contextKey{}).(string)
	return tp
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func allZero(s string) bool {
	return strings.Trim(s, "0") == ""
}
