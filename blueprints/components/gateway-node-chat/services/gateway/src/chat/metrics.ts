// The chat completions' own metrics (the contract's names), on the app's
// registry beside the gateway_http_* and gateway_upstream_* ones, which
// count chat requests like predictions.
import client from 'prom-client'

// Why a stream ended before its last event: the client went away, or one
// of the contract's error events.
export type CutReason = 'client' | 'slow_reader' | 'upstream_timeout' | 'upstream_error' | 'shutdown'

const REASONS: readonly CutReason[] = ['client', 'slow_reader', 'upstream_timeout', 'upstream_error', 'shutdown']
const SEQUENCE_ERRORS = ['gap', 'duplicate'] as const

export class ChatMetrics {
  readonly #inFlight: client.Gauge
  readonly #firstToken: client.Histogram
  readonly #tokensPerSecond: client.Histogram
  readonly #cancelled: client.Counter<'reason'>
  readonly #sequenceErrors: client.Counter<'kind'>

  constructor(registry: client.Registry) {
    const registers = [registry]
    this.#inFlight = new client.Gauge({
      name: 'gateway_chat_streams_in_flight',
      help: 'Chat completion streams being relayed now.',
      registers,
    })
    this.#firstToken = new client.Histogram({
      name: 'gateway_chat_time_to_first_token_seconds',
      help: 'Time from a streaming chat request to its first event.',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    })
    this.#tokensPerSecond = new client.Histogram({
      name: 'gateway_chat_tokens_per_second',
      help: 'Events per second of each stream of two events or more, from its first event to its last.',
      buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500],
      registers,
    })
    this.#cancelled = new client.Counter({
      name: 'gateway_chat_streams_cancelled_total',
      help: 'Streams that ended before their last event, by reason (client, slow_reader, upstream_timeout, upstream_error, shutdown).',
      labelNames: ['reason'] as const,
      registers,
    })
    this.#sequenceErrors = new client.Counter({
      name: 'gateway_chat_sequence_errors_total',
      help: 'Stream entries out of sequence (Redis Streams transport), by kind (gap, duplicate).',
      labelNames: ['kind'] as const,
      registers,
    })
    // Every series from the start: a rate over a series that appears at its
    // first increment misses that increment.
    for (const reason of REASONS) this.#cancelled.inc({ reason }, 0)
    for (const kind of SEQUENCE_ERRORS) this.#sequenceErrors.inc({ kind }, 0)
  }

  // A stream began; the returned function ends it.
  streamStarted(): () => void {
    this.#inFlight.inc()
    return () => this.#inFlight.dec()
  }

  firstToken(seconds: number): void {
    this.#firstToken.observe(seconds)
  }

  // One sample per stream of two events or more.
  streamEnded(events: number, firstToLastSeconds: number): void {
    if (events >= 2 && firstToLastSeconds > 0) this.#tokensPerSecond.observe((events - 1) / firstToLastSeconds)
  }

  cancelled(reason: CutReason): void {
    this.#cancelled.inc({ reason })
  }

  sequenceError(kind: 'gap' | 'duplicate'): void {
    this.#sequenceErrors.inc({ kind })
  }
}
