package upstream

import (
	"context"
	"errors"
)

// ChatRequest is a chat completion request that passed validation.
type ChatRequest struct {
	Body        []byte // the client's JSON body, forwarded as is
	RequestID   string
	TraceParent string
	Stream      bool // the body's "stream" is true
}

// Event is one event of a chat completion stream: the payload of one
// `data:` line, relayed to the client verbatim. Error marks the model's own
// error event (`{"error":...}`): the stream ends after it.
type Event struct {
	Data  []byte
	Error bool
}

// Errors of a Stream's Next (the HTTP API turns each into its error event;
// see docs/ml-gateway-contract.md, "Chat completions").
var (
	// ErrSlowReader: more than the stream buffer's events waited for the
	// client (slow_reader); the events still waiting are dropped.
	ErrSlowReader = errors.New("the client read the stream too slowly")
	// ErrBroken: the upstream stream broke off (upstream_error): the
	// connection was lost, an entry came out of sequence, an event was
	// unreadable, an ordinary reply came in the middle of a stream.
	ErrBroken = errors.New("the model's stream broke off")
)

// Stream is a chat completion being generated upstream.
type Stream interface {
	// Next returns the next event, waiting at most until ctx is done
	// (the HTTP API's deadline: the token gap timeout). It returns io.EOF
	// after the last event (the upstream's end, `[DONE]`), ErrSlowReader,
	// ErrBroken, or ctx's error.
	Next(ctx context.Context) (Event, error)
	// Close ends the stream; when it had not ended, the generation is
	// cancelled upstream (HTTP: the request is aborted; streams: the cancel
	// key). Always called, once.
	Close()
}

// ChatTransport carries chat completions to the ML service. The transports
// implement it beside Transport when streaming is on.
type ChatTransport interface {
	// Models relays GET /v1/models (the Predict budget and errors).
	Models(ctx context.Context, req Request) (Reply, error)
	// Complete relays a chat completion with stream false: the whole
	// completion, or a problem, as Predict does (budget and errors).
	Complete(ctx context.Context, req ChatRequest) (Reply, error)
	// Stream starts a streaming completion (req.Stream true) and waits,
	// until ctx is done (the first token timeout: ErrTimeout), for its
	// first event or an ordinary answer. It returns either a Stream whose
	// Next gives that first event first, or the Reply to relay as
	// Predict's (a 4xx problem; any other status is the caller's 502), or
	// an error as Predict's (ErrTimeout -> 504; context.Canceled when the
	// client went away; anything else -> 502). ctx bounds that wait only:
	// the HTTP API cancels it once the first event came, and the Stream
	// lives on until Close (each Next has its own ctx).
	Stream(ctx context.Context, req ChatRequest) (Stream, *Reply, error)
}

// ChatOptions configure a transport's chat side.
type ChatOptions struct {
	// BufferEvents is GATEWAY_STREAM_BUFFER_EVENTS: the most events that
	// wait per stream for a client that reads too slowly.
	BufferEvents int
	// OnSequenceError counts a stream entry out of sequence (Redis
	// Streams): kind is "gap" or "duplicate". Never nil.
	OnSequenceError func(kind string)
}

// ChatCapable is a Transport that carries chat completions too: each
// transport's chat component (gateway-go-TRANSPORT-chat) gives its
// transport type a Chat method, in a file of its own.
type ChatCapable interface {
	Chat(opts ChatOptions) ChatTransport
}
