// Package requestid names every request: the client's X-Request-ID when it
// is well formed, a new random id otherwise.
package requestid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
)

// Header carries the id in requests and responses.
const Header = "X-Request-ID"

// Valid reports whether id may be kept as given: 1 to 128 characters from
// A-Z a-z 0-9 and ._:-
func Valid(id string) bool {
	if len(id) < 1 || len(id) > 128 {
		return false
	}
	for i := range len(id) {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// New returns a fresh id: 32 lowercase hex characters.
func New() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// FromHeader returns the client's id when it is valid, else a new one.
func FromHeader(value string) string {
	if Valid(value) {
		return value
	}
	return New()
}

type contextKey struct{}

// NewContext returns a copy of ctx that carries id.
func NewContext(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, contextKey{}, id)
}

// FromContext returns the id carried by ctx, or "".
func FromContext(ctx context.Context) string {
	id, _ := ctx.Value(contextKey{}).(string)
	return id
}
