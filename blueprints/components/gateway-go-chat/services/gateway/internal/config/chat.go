package config

import "time"

// Chat configures the chat completions API: how long a stream may wait
// for its model, and how many events may wait for its client.
type Chat struct {
	FirstTokenTimeout time.Duration // GATEWAY_FIRST_TOKEN_TIMEOUT_MS: request to first event; then 504
	TokenGapTimeout   time.Duration // GATEWAY_TOKEN_GAP_TIMEOUT_MS: between two events; then upstream_timeout
	BufferEvents      int           // GATEWAY_STREAM_BUFFER_EVENTS: events waiting per stream; one more is slow_reader
}

// Defaults and bounds of the chat settings.
const (
	DefaultFirstTokenTimeout = 10 * time.Second
	DefaultTokenGapTimeout   = 10 * time.Second
	DefaultBufferEvents      = 256
	MaxBufferEvents          = 65536
)

// loadChat reads GATEWAY_FIRST_TOKEN_TIMEOUT_MS, GATEWAY_TOKEN_GAP_TIMEOUT_MS
// and GATEWAY_STREAM_BUFFER_EVENTS.
func loadChat(r *reader) Chat {
	return Chat{
		FirstTokenTimeout: r.millis("GATEWAY_FIRST_TOKEN_TIMEOUT_MS", DefaultFirstTokenTimeout.Milliseconds(), 1),
		TokenGapTimeout:   r.millis("GATEWAY_TOKEN_GAP_TIMEOUT_MS", DefaultTokenGapTimeout.Milliseconds(), 1),
		BufferEvents:      int(r.integer("GATEWAY_STREAM_BUFFER_EVENTS", DefaultBufferEvents, 1, MaxBufferEvents)),
	}
}
