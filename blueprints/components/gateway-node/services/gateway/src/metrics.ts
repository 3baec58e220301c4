// Prometheus metrics: one registry per app (so tests can build many apps),
// request count and latency by route and status, upstream outcomes. The
// framework glue reports each answered request with observeRequest.
import client from 'prom-client'
import type { Outcome } from './upstream/upstream.ts'

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

// The route label of a request no route answered (404, 405).
export const UNMATCHED = 'unmatched'

export class GatewayMetrics {
  readonly registry = new client.Registry()

  readonly #requests: client.Counter<'method' | 'route' | 'status'>
  readonly #duration: client.Histogram<'method' | 'route' | 'status'>
  readonly #upstream: client.Counter<'outcome'>
  readonly #upstreamDuration: client.Histogram<'outcome'>
  readonly #droppedReplies: client.Counter
  #inflight: () => number = () => 0

  constructor() {
    const registers = [this.registry]
    client.collectDefaultMetrics({ register: this.registry })
    const labelNames = ['method', 'route', 'status'] as const
    this.#requests = new client.Counter({
      name: 'gateway_http_requests_total',
      help: 'HTTP requests answered, by method, route and status.',
      labelNames,
      registers,
    })
    this.#duration = new client.Histogram({
      name: 'gateway_http_request_duration_seconds',
      help: 'Time to answer HTTP requests, by method, route and status.',
      labelNames,
      buckets: BUCKETS,
      registers,
    })
    this.#upstream = new client.Counter({
      name: 'gateway_upstream_requests_total',
      help: 'API requests sent upstream, by outcome (ok, client_error, server_error, timeout, unavailable, canceled).',
      labelNames: ['outcome'] as const,
      registers,
    })
    this.#upstreamDuration = new client.Histogram({
      name: 'gateway_upstream_request_duration_seconds',
      help: 'Time from sending a prediction upstream to its answer, by outcome.',
      labelNames: ['outcome'] as const,
      buckets: BUCKETS,
      registers,
    })
    this.#droppedReplies = new client.Counter({
      name: 'gateway_stream_replies_dropped_total',
      help: 'Stream replies whose id no request was waiting for (late or duplicate).',
      registers,
    })
    const inflight = () => this.#inflight()
    new client.Gauge({
      name: 'gateway_inflight_requests',
      help: 'API requests being answered now (GATEWAY_MAX_INFLIGHT caps them).',
      registers,
      collect() {
        this.set(inflight())
      },
    })
  }

  // `count()` is read at each scrape.
  trackInflight(count: () => number): void {
    this.#inflight = count
  }

  // The series of each label set, looked up once (prom-client hashes the
  // labels on every call otherwise). Label sets are few: routes, methods
  // and statuses the gateway answers (an unmatched route is one label).
  readonly #requestSeries = new Map<string, { count: client.Counter.Internal; time: client.Histogram.Internal<'method' | 'route' | 'status'> }>()
  readonly #upstreamSeries = new Map<Outcome, { count: client.Counter.Internal; time: client.Histogram.Internal<'outcome'> }>()

  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${route} ${status}`
    let series = this.#requestSeries.get(key)
    if (series === undefined) {
      const labels = { method, route, status: String(status) }
      series = { count: this.#requests.labels(labels), time: this.#duration.labels(labels) }
      this.#requestSeries.set(key, series)
    }
    series.count.inc()
    series.time.observe(seconds)
  }

  observeUpstream(outcome: Outcome, seconds: number): void {
    let series = this.#upstreamSeries.get(outcome)
    if (series === undefined) {
      series = { count: this.#upstream.labels({ outcome }), time: this.#upstreamDuration.labels({ outcome }) }
      this.#upstreamSeries.set(outcome, series)
    }
    series.count.inc()
    series.time.observe(seconds)
  }

  droppedReply(): void {
    this.#droppedReplies.inc()
  }
}
