package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Why a stream ended before its last event: the values of the reason label
// of gateway_chat_streams_cancelled_total.
const (
	CancelClient          = "client"
	CancelSlowReader      = "slow_reader"
	CancelUpstreamTimeout = "upstream_timeout"
	CancelUpstreamError   = "upstream_error"
	CancelShutdown        = "shutdown"
)

// Chat records the chat completions streams (gateway_chat_*).
type Chat struct {
	inFlight        prometheus.Gauge
	firstToken      prometheus.Histogram
	tokensPerSecond prometheus.Histogram
	cancelled       *prometheus.CounterVec
	sequenceErrors  *prometheus.CounterVec
}

// NewChat returns the chat metrics, registered in reg (Metrics.Registry).
func NewChat(reg prometheus.Registerer) *Chat {
	c := &Chat{
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gateway_chat_streams_in_flight",
			Help: "Chat completion streams being relayed.",
		}),
		firstToken: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gateway_chat_time_to_first_token_seconds",
			Help:    "Time from a streaming chat request to its first event.",
			Buckets: prometheus.DefBuckets,
		}),
		tokensPerSecond: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gateway_chat_tokens_per_second",
			Help:    "Events per second after the first, one sample per stream of two events or more.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12), // 1 to 2048
		}),
		cancelled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_chat_streams_cancelled_total",
			Help: "Chat completion streams ended before their last event, by reason.",
		}, []string{"reason"}),
		sequenceErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_chat_sequence_errors_total",
			Help: "Stream entries out of sequence (Redis Streams), by kind: gap or duplicate.",
		}, []string{"kind"}),
	}
	reg.MustRegister(c.inFlight, c.firstToken, c.tokensPerSecond, c.cancelled, c.sequenceErrors)
	// Every series from the start, so that rate() sees the first increment.
	for _, r := range []string{CancelClient, CancelSlowReader, CancelUpstreamTimeout, CancelUpstreamError, CancelShutdown} {
		c.cancelled.WithLabelValues(r)
	}
	for _, k := range []string{"gap", "duplicate"} {
		c.sequenceErrors.WithLabelValues(k)
	}
	return c
}

// StreamStarted counts a stream in flight, whose first event came after
// firstToken; call the returned function when it ends.
func (c *Chat) StreamStarted(firstToken time.Duration) (done func()) {
	c.firstToken.Observe(firstToken.Seconds())
	c.inFlight.Inc()
	return c.inFlight.Dec
}

// Throughput records the pace of a stream: events relayed, and the time
// from its first event to its last. A stream of one event has no pace.
func (c *Chat) Throughput(events int, span time.Duration) {
	if events < 2 || span <= 0 {
		return
	}
	c.tokensPerSecond.Observe(float64(events-1) / span.Seconds())
}

// Cancelled counts a stream ended before its last event, for reason (one
// of the Cancel* constants).
func (c *Chat) Cancelled(reason string) { c.cancelled.WithLabelValues(reason).Inc() }

// SequenceError counts a stream entry out of sequence: kind is "gap" or
// "duplicate" (upstream.ChatOptions.OnSequenceError).
func (c *Chat) SequenceError(kind string) { c.sequenceErrors.WithLabelValues(kind).Inc() }
