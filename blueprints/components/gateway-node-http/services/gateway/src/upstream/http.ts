// HTTP transport: POST the request body to the ML service over a keep-alive
// connection pool, with one time budget for the whole exchange.
import type { IncomingHttpHeaders } from 'node:http'
import { Client, Pool, type Dispatcher } from 'undici'
import { MAX_TIMER_MS } from '../env.ts'
import { JSON_TYPE, PROBLEM_TYPE } from '../problem.ts'
import { type PredictCall, type Upstream, type UpstreamAnswer, UpstreamError } from './upstream.ts'

// An idle pooled connection is closed after this long. It must stay below
// the ML server's own keep-alive (uvicorn: 5 s), or the gateway writes
// requests on connections the server is closing. 4 s is undici's default.
export const KEEP_ALIVE_MS = 4_000

// Errors of a connection that died before any answer arrived: the server
// closed it (its keep-alive ran out as the request went out) or reset it.
const CONNECTION_LOST = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE'])

// The ML service's 4xx problems that reach the client as they are: the
// request was at fault. Any other answer (a 404 from a wrong base path in
// ML_URL, a proxy's 401 or HTML page, any 5xx) is the gateway's problem: 502.
const RELAYED_4XX = new Set([400, 413, 422])

export interface HttpUpstreamConfig {
  readonly mlUrl: string
  readonly upstreamTimeoutMs: number
}

// What the ML service's JSON answers may be.
const ANSWER_TYPES = `${JSON_TYPE}, ${PROBLEM_TYPE}`

type Request = Dispatcher.RequestOptions & { signal: AbortSignal }

// The exchanges other parts of the gateway build on this transport (its chat
// side): the same pools, headers and answer rules as predict's.
export interface HttpExchange {
  // method `path` (under ML_URL's base path) within the upstream budget,
  // answered as predict's.
  relay(method: 'GET' | 'POST', path: string, what: string, call: PredictCall): Promise<UpstreamAnswer>
  // A non-200 answer as predict's (a relayed 4xx problem, else UpstreamError).
  answerOf(res: Dispatcher.ResponseData): Promise<UpstreamAnswer>
  // Sends a request whose answer may last (an event stream), with no time
  // limit of undici's own: `signal` bounds it.
  open(method: 'GET' | 'POST', path: string, call: PredictCall, accept: string, signal: AbortSignal): Promise<Dispatcher.ResponseData>
}

export interface HttpUpstream extends Upstream {
  readonly exchange: HttpExchange
}

export function createHttpUpstream(config: HttpUpstreamConfig): HttpUpstream {
  const base = new URL(config.mlUrl)
  const prefix = base.pathname.replace(/\/+$/, '')
  const options = {
    keepAliveTimeout: KEEP_ALIVE_MS,
    // The budget timer below decides between 502 and 504, so let it fire first.
    connectTimeout: Math.min(config.upstreamTimeoutMs + 1000, MAX_TIMER_MS),
  }
  const pool = new Pool(base.origin, { connections: 64, ...options })
  // Long answers (event streams) hold their connection for as long as they
  // last: they get a pool of their own, so they never make short requests
  // wait. Its size is bounded by GATEWAY_MAX_INFLIGHT, not here.
  const longPool = new Pool(base.origin, options)

  // One request on a connection of its own, closed once answered.
  function onNewConnection(request: Request): Promise<Dispatcher.ResponseData> {
    const client = new Client(base.origin, options)
    const answer = client.request(request)
    client.close().catch(() => {})
    return answer
  }

  // Send through the pool. Even below the server's keep-alive, the server
  // may close a pooled connection just as a request goes out on it (another
  // hop with a shorter keep-alive, a restart): nothing was answered, and a
  // prediction has no side effects, so it is sent once more, on a new
  // connection (the other idle ones may be closing too), within the budget.
  async function send(request: Request, via: Pool = pool): Promise<Dispatcher.ResponseData> {
    try {
      return await via.request(request)
    } catch (err) {
      const code = (err as { code?: string }).code
      if (request.signal.aborted || code === undefined || !CONNECTION_LOST.has(code)) throw err
      return onNewConnection(request)
    }
  }

  // Run `fn(signal)` with the upstream time budget; `signal` also aborts
  // when `cancel` does (the client went away). A timeout is an
  // UpstreamError("timeout"), a cancel "canceled", any other failure
  // "unavailable".
  async function withBudget<T>(what: string, cancel: AbortSignal | undefined, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const budget = new AbortController()
    const timer = setTimeout(() => {
      budget.abort()
    }, config.upstreamTimeoutMs)
    const signal = cancel ? AbortSignal.any([budget.signal, cancel]) : budget.signal
    try {
      return await fn(signal)
    } catch (err) {
      if (err instanceof UpstreamError) throw err
      if (budget.signal.aborted) {
        throw new UpstreamError('timeout', `the ML service did not answer ${what} within ${config.upstreamTimeoutMs} ms`, { cause: err })
      }
      if (cancel?.aborted === true) throw new UpstreamError('canceled', `the client went away before ${what} was answered`, { cause: err })
      const { code, message } = err as { code?: string; message?: string }
      throw new UpstreamError('unavailable', `the ML service is unreachable: ${code ?? message ?? String(err)}`, { cause: err })
    } finally {
      clearTimeout(timer)
    }
  }

  // The ML service's answer as predict's: { status, body, contentType }
  // for 200 and the contract's 4xx problems; UpstreamError otherwise.
  async function answerOf(res: Dispatcher.ResponseData): Promise<UpstreamAnswer> {
    const contentType = res.statusCode === 200 ? JSON_TYPE : PROBLEM_TYPE
    if (res.statusCode !== 200 && !(RELAYED_4XX.has(res.statusCode) && mediaType(res.headers) === PROBLEM_TYPE)) {
      await res.body.dump()
      throw new UpstreamError('server_error', `the ML service answered ${res.statusCode} (${mediaType(res.headers) || 'no Content-Type'})`)
    }
    const bytes = Buffer.from(await res.body.arrayBuffer())
    return { status: res.statusCode, body: bytes, contentType }
  }

  function request(method: 'GET' | 'POST', path: string, call: PredictCall, accept: string, signal: AbortSignal): Request {
    return {
      origin: base.origin,
      method,
      path: `${prefix}${path}`,
      headers: {
        ...(method === 'POST' && { 'content-type': JSON_TYPE }),
        accept,
        'x-request-id': call.requestId,
        traceparent: call.traceparent,
      },
      ...(method === 'POST' && { body: call.body }),
      signal,
    }
  }

  // One JSON exchange within the budget, answered as predict's.
  function relay(method: 'GET' | 'POST', path: string, what: string, call: PredictCall): Promise<UpstreamAnswer> {
    return withBudget(what, call.signal, async (signal) => answerOf(await send(request(method, path, call, ANSWER_TYPES, signal))))
  }

  return {
    async start() {},

    // Resolves to { status, body, contentType } for 200 and the contract's
    // 4xx answers; throws UpstreamError otherwise.
    predict(call: PredictCall): Promise<UpstreamAnswer> {
      return relay('POST', '/v1/predict', 'the prediction', call)
    },

    exchange: {
      relay,
      answerOf,
      open(method, path, call, accept, signal) {
        return send({ ...request(method, path, call, accept, signal), headersTimeout: 0, bodyTimeout: 0 }, longPool)
      },
    },

    // Resolves when GET /readyz on the ML service answers 200.
    ready() {
      return withBudget('/readyz', undefined, async (signal) => {
        const res = await send({ origin: base.origin, method: 'GET', path: `${prefix}/readyz`, signal })
        await res.body.dump()
        if (res.statusCode !== 200) {
          throw new UpstreamError('server_error', `the ML service /readyz answered ${res.statusCode}`)
        }
      })
    },

    async close() {
      await Promise.all([pool.close(), longPool.close()])
    },
  }
}

export function mediaType(headers: IncomingHttpHeaders): string {
  return (headers['content-type'] ?? '').split(';', 1)[0]?.trim().toLowerCase() ?? ''
}
