// Package upstream defines what the HTTP API needs from the ML service,
// whatever carries the request there (HTTP or Redis Streams).
package upstream

import (
	"context"
	"errors"
)

// Request is a predict request that passed validation.
type Request struct {
	Body        []byte // the client's JSON body, forwarded as is
	RequestID   string
	TraceParent string
}

// Reply is the ML service's answer, relayed to the client as is.
type Reply struct {
	Status int
	Body   []byte
}

// ErrTimeout means the ML service did not answer within the budget (504).
// Any other error from a Transport is a 502, except the request's own
// context.Canceled when the client went away.
var ErrTimeout = errors.New("upstream did not answer in time")

// Transport carries predict requests to the ML service.
type Transport interface {
	// Predict sends req and waits for the reply, up to the upstream timeout.
	Predict(ctx context.Context, req Request) (Reply, error)
	// Ready reports whether the ML service (or the broker in between)
	// can take requests.
	Ready(ctx context.Context) error
}
