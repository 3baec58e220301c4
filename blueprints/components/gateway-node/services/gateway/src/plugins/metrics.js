// Prometheus metrics: one registry per app (so tests can build many apps),
// request count and latency by route and status, upstream outcomes.
import fp from 'fastify-plugin'
import client from 'prom-client'

async function metrics(fastify) {
  const registry = new client.Registry()
  client.collectDefaultMetrics({ register: registry })

  const labelNames = ['method', 'route', 'status']
  const requests = new client.Counter({
    name: 'gateway_http_requests_total',
    help: 'HTTP requests answered, by method, route and status.',
    labelNames,
    registers: [registry],
  })
  const duration = new client.Histogram({
    name: 'gateway_http_request_duration_seconds',
    help: 'Time to answer HTTP requests, by method, route and status.',
    labelNames,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  })
  const upstream = new client.Counter({
    name: 'gateway_upstream_requests_total',
    help: 'Predictions sent upstream, by outcome (ok, client_error, server_error, timeout, unavailable, canceled).',
    labelNames: ['outcome'],
    registers: [registry],
  })
  const upstreamDuration = new client.Histogram({
    name: 'gateway_upstream_request_duration_seconds',
    help: 'Time from sending a prediction upstream to its answer, by outcome.',
    labelNames: ['outcome'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  })
  const droppedReplies = new client.Counter({
    name: 'gateway_stream_replies_dropped_total',
    help: 'Stream replies whose id no request was waiting for (late or duplicate).',
    registers: [registry],
  })

  const inflight = new client.Gauge({
    name: 'gateway_inflight_requests',
    help: 'Predictions being answered now (GATEWAY_MAX_INFLIGHT caps them).',
    registers: [registry],
  })

  fastify.decorate('metrics', {
    registry,
    droppedReplies,
    // `count()` is read at each scrape.
    trackInflight(count) {
      inflight.collect = function () {
        this.set(count())
      }
    },
    // Record one upstream call; `outcome` is one of the label values above.
    observeUpstream(outcome, seconds) {
      upstream.inc({ outcome })
      upstreamDuration.observe({ outcome }, seconds)
    },
  })

  fastify.addHook('onResponse', async (request, reply) => {
    const labels = {
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      status: String(reply.statusCode),
    }
    requests.inc(labels)
    duration.observe(labels, reply.elapsedTime / 1000)
  })
}

export default fp(metrics, { name: 'metrics' })
