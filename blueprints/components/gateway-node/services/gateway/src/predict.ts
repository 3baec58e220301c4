// POST /v1/predict, apart from the framework: what is checked before the
// body is read, the body's shape, and the call upstream with its outcome.
// Each framework's route calls a Predictor in this order: admit() (503
// draining, 401, 429, 415, 503 over GATEWAY_MAX_INFLIGHT), then its own body
// limit (413) and JSON parse (400), the predictBody schema (422), forward().
import type { IncomingHttpHeaders, ServerResponse } from 'node:http'
import type { Log } from './log.ts'
import type { Authenticator } from './auth/authenticator.ts'
import type { RateLimiter } from './ratelimit/limiter.ts'
import type { DrainState } from './drain.ts'
import type { GatewayMetrics } from './metrics.ts'
import { HttpProblem, unavailable } from './problem.ts'
import { type Outcome, type PredictCall, type Upstream, type UpstreamAnswer, UpstreamError } from './upstream/upstream.ts'

// Exactly the contract's shape: an object with only `instances`, 1 to
// maxRows (ML_MAX_BATCH) rows, each a non-empty array of JSON numbers (a
// JSON Schema "number" excludes 1e999, which parses to Infinity). The model
// checks the feature count.
export function predictBody(maxRows: number) {
  return {
    type: 'object',
    required: ['instances'],
    additionalProperties: false,
    properties: {
      instances: {
        type: 'array',
        minItems: 1,
        maxItems: maxRows,
        items: { type: 'array', minItems: 1, items: { type: 'number' } },
      },
    },
  } as const
}

// The parts of an Ajv error that the detail shows.
export interface SchemaError {
  instancePath: string
  message?: string | undefined
  params?: Record<string, unknown>
}

// "body/instances must NOT have fewer than 1 items", from the first schema error.
export function validationDetail({ instancePath, message, params }: SchemaError): string {
  const extra = typeof params?.additionalProperty === 'string' ? ` (${params.additionalProperty})` : ''
  return `body${instancePath} ${message ?? 'is invalid'}${extra}`
}

export const EMPTY_BODY = 'request body is empty'
export const TOO_LARGE = 'request body is larger than GATEWAY_MAX_BODY_BYTES'
export const NOT_JSON_TYPE = 'Content-Type must be application/json'

// The body as JSON, or a 400 problem.
export function parseJson(bytes: Buffer): unknown {
  if (bytes.length === 0) throw new HttpProblem(400, EMPTY_BODY)
  try {
    return JSON.parse(bytes.toString('utf8'))
  } catch (err) {
    throw new HttpProblem(400, `request body is not valid JSON: ${(err as Error).message}`)
  }
}

export function isJsonContentType(header: string | undefined): boolean {
  return header?.split(';', 1)[0]?.trim().toLowerCase() === 'application/json'
}

function outcomeOf(status: number): Outcome {
  if (status < 300) return 'ok'
  return status < 500 ? 'client_error' : 'server_error'
}

export interface PredictorOptions {
  upstream: Upstream
  authenticator: Authenticator
  // undefined: callers are not limited
  rateLimiter: RateLimiter | undefined
  metrics: GatewayMetrics
  drain: DrainState
  maxInflight: number
  // For messages only; the transport enforces it.
  upstreamTimeoutMs: number
}

export class Predictor {
  readonly #options: PredictorOptions
  #inflight = 0

  constructor(options: PredictorOptions) {
    this.#options = options
    options.metrics.trackInflight(() => this.#inflight)
  }

  // Before the body is read: draining, the caller (401), its budget (429:
  // the limiter's headers go on every answer from then on), the media
  // type, then a slot, held until the response closes. Past
  // GATEWAY_MAX_INFLIGHT the answer is a fast 503, not a queue of 504s.
  // Returns the caller's name, for the request's log ('' when callers have
  // none); log is the request's logger.
  // A request without a body (`json` false: GET) skips the media type.
  async admit(headers: IncomingHttpHeaders, remoteAddress: string | undefined, res: ServerResponse, log: Log, { json = true } = {}): Promise<string> {
    const { drain, authenticator, rateLimiter, maxInflight } = this.#options
    drain.assertNotDraining()
    const caller = await authenticator.authenticate(headers, log)
    if (rateLimiter) {
      for (const [name, value] of Object.entries(await rateLimiter.limit({ caller, remoteAddress, headers }))) {
        res.setHeader(name, value)
      }
    }
    if (json && !isJsonContentType(headers['content-type'])) throw new HttpProblem(415, NOT_JSON_TYPE)
    if (this.#inflight >= maxInflight) {
      throw unavailable(`the gateway is answering its maximum of ${maxInflight} requests; retry later`)
    }
    this.#inflight += 1
    res.once('close', () => {
      this.#inflight -= 1
    })
    return caller
  }

  // The upstream's answer, or undefined when the client went away first (the
  // connection closed before the answer was sent: the call is canceled).
  forward(call: Omit<PredictCall, 'signal'>, res: ServerResponse, log: Log): Promise<UpstreamAnswer | undefined> {
    const { upstream, upstreamTimeoutMs } = this.#options
    return this.call(res, log, upstreamTimeoutMs, (signal) => upstream.predict({ ...call, signal }))
  }

  // One call upstream (a prediction, or another operation of the same
  // transport), given a signal that aborts when the client goes away:
  // its result, or undefined when the client went away first. An upstream
  // failure is a 502 or 504 problem (`timeoutDetail` within `timeoutMs`);
  // its cause stays in the logs (it names hosts, ports and error codes).
  async call<T extends object>(res: ServerResponse, log: Log, timeoutMs: number, send: (signal: AbortSignal) => Promise<T>, timeoutDetail = 'the ML service did not answer'): Promise<T | undefined> {
    const { metrics } = this.#options
    const gone = new AbortController()
    const onClose = () => {
      if (!res.writableFinished) gone.abort()
    }
    res.once('close', onClose)
    const started = performance.now()
    const seconds = () => (performance.now() - started) / 1000
    try {
      const result = await send(gone.signal)
      metrics.observeUpstream('status' in result && typeof result.status === 'number' ? outcomeOf(result.status) : 'ok', seconds())
      return result
    } catch (err) {
      if (!(err instanceof UpstreamError)) throw err
      metrics.observeUpstream(err.kind, seconds())
      if (err.kind === 'canceled') {
        log.info('client closed the request')
        return undefined
      }
      const detail = err.kind === 'timeout'
        ? `${timeoutDetail} within ${timeoutMs} ms`
        : 'the ML service could not be reached or failed'
      throw new HttpProblem(err.status, detail, { cause: err })
    } finally {
      res.off('close', onClose)
    }
  }
}

// GET /readyz: not ready from SIGTERM on, nor while the authenticator
// cannot check credentials, nor while the upstream is not ready.
export async function checkReady(drain: DrainState, authenticator: Authenticator, upstream: Upstream, log: Log): Promise<void> {
  drain.assertReady()
  await authenticator.ready?.()
  try {
    await upstream.ready()
  } catch (err) {
    log.warn({ err }, 'upstream not ready')
    throw unavailable('the upstream is not ready')
  }
}
