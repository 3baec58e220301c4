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

// New returns the traceparent of a new trace, with the sampled flag set
// (01) or not (00). The gateway records no spans of its own: the flag only
// tells the services behind it whether to record theirs.
func New(sampled bool) string {
	var b [24]byte
	rand.Read(b[:]) // never fails (crypto/rand panics if it could)
	flags := "-00"
	if sampled {
		flags = "-01"
	}
	return "00-" + hex.EncodeToString(b[:16]) + "-" + hex.EncodeToString(b[16:]) + flags
}

// FromHeader returns value as it came when it is valid, so the caller's
// sampling decision (its flags) holds downstream; else a new traceparent,
// sampled as sampleNew says.
func FromHeader(value string, sampleNew bool) string {
	if Valid(value) {
		return value
	}
	return New(sampleNew)
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
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func allZero(s string) bool {
	return strings.Trim(s, "0") == ""
}
