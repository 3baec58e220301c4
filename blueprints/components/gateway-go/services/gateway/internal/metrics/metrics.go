// Package metrics holds the gateway's Prometheus metrics, in a registry of
// its own so tests can make as many as they need.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Upstream outcomes, the values of the outcome label.
const (
	OutcomeOK          = "ok"          // a 2xx answer
	OutcomeRejected    = "rejected"    // a 4xx answer, relayed
	OutcomeError       = "error"       // a 5xx answer, or a broken one
	OutcomeUnavailable = "unavailable" // could not reach it
	OutcomeTimeout     = "timeout"     // no answer in time
)

// Metrics records what the gateway does.
type Metrics struct {
	registry         *prometheus.Registry
	requests         *prometheus.CounterVec
	duration         *prometheus.HistogramVec
	inFlight         prometheus.Gauge
	upstream         *prometheus.CounterVec
	upstreamDuration prometheus.Histogram
	droppedReplies   prometheus.Counter
}

// New returns metrics registered in a new registry, with the Go runtime and
// process collectors.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_http_requests_total",
			Help: "HTTP requests answered, by method, route and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gateway_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by method and route.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gateway_http_requests_in_flight",
			Help: "HTTP requests being answered.",
		}),
		upstream: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_upstream_requests_total",
			Help: "API requests sent to the ML service, by outcome.",
		}, []string{"outcome"}),
		upstreamDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gateway_upstream_request_duration_seconds",
			Help:    "Time the ML service took to answer API requests.",
			Buckets: prometheus.DefBuckets,
		}),
		droppedReplies: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gateway_stream_replies_dropped_total",
			Help: "Stream replies for requests nobody waits for any more.",
		}),
	}
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.duration, m.inFlight, m.upstream, m.upstreamDuration, m.droppedReplies,
	)
	for _, o := range []string{OutcomeOK, OutcomeRejected, OutcomeError, OutcomeUnavailable, OutcomeTimeout} {
		m.upstream.WithLabelValues(o)
	}
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Registry returns the registry the metrics live in.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// RequestStarted counts a request in flight; call the returned function
// when it is answered.
func (m *Metrics) RequestStarted() (done func(method, route string, status int, d time.Duration)) {
	m.inFlight.Inc()
	return func(method, route string, status int, d time.Duration) {
		m.inFlight.Dec()
		m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
		m.duration.WithLabelValues(method, route).Observe(d.Seconds())
	}
}

// Upstream records one predict request sent to the ML service.
func (m *Metrics) Upstream(outcome string, d time.Duration) {
	m.upstream.WithLabelValues(outcome).Inc()
	m.upstreamDuration.Observe(d.Seconds())
}

// ReplyDropped counts a stream reply that no request waited for.
func (m *Metrics) ReplyDropped() { m.droppedReplies.Inc() }
