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

// The budget left for the ML service, in whole ms (docs/ml-gateway-contract.md).
export const TIMEOUT_HEADER = 'x-request-timeout-ms'

// What is left at `now` of a budget that ends at `deadline` (ms): whole ms,
// at least 1 (0 would read as "no time at all" or be refused as malformed).
export function budgetLeftMs(deadline: number, now: number): number {
  return Math.max(1, Math.floor(deadline - now))
}

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
  // `again` rebuilds the request for the second send (what is left of its
  // budget then).
  async function send(request: Request, via: Pool = pool, again = () => request): Promise<Dispatcher.ResponseData> {
    try {
      return await via.request(request)
    } catch (err) {
      const code = (err as { code?: string }).code
      if (request.signal.aborted || code === undefined || !CONNECTION_LOST.has(code)) throw err
      return onNewConnection(again())
    }
  }

  // Run `fn(signal, deadline)` with the upstream time budget, which ends at
  // `deadline` (performance.now() ms); `signal` aborts then, or when
  // `cancel` does (the client went away). A timeout is an
  // UpstreamError("timeout"), a cancel "canceled", any other failure
  // "unavailable". One controller, one timer and one listener a call.
  async function withBudget<T>(what: string, cancel: AbortSignal | undefined, fn: (signal: AbortSignal, deadline: number) => Promise<T>): Promise<T> {
    const deadline = performance.now() + config.upstreamTimeoutMs
    const stop = new AbortController()
    const budget = { spent: false }
    const timer = setTimeout(() => {
      budget.spent = true
      stop.abort()
    }, config.upstreamTimeoutMs)
    const onCancel = () => {
      stop.abort()
    }
    if (cancel?.aborted === true) stop.abort()
    else cancel?.addEventListener('abort', onCancel, { once: true })
    try {
      return await fn(stop.signal, deadline)
    } catch (err) {
      if (err instanceof UpstreamError) throw err
      if (budget.spent) {
        throw new UpstreamError('timeout', `the ML service did not answer ${what} within ${config.upstreamTimeoutMs} ms`, { cause: err })
      }
      if (cancel?.aborted === true) throw new UpstreamError('canceled', `the client went away before ${what} was answered`, { cause: err })
      const { code, message } = err as { code?: string; message?: string }
      throw new UpstreamError('unavailable', `the ML service is unreachable: ${code ?? message ?? String(err)}`, { cause: err })
    } finally {
      clearTimeout(timer)
      cancel?.removeEventListener('abort', onCancel)
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

  // `deadline` (performance.now() ms): the exchange has a budget, sent as
  // X-Request-Timeout-Ms, what is left of it (>= 1 ms), so that the ML
  // service gives up on a request nobody waits for any more.
  function request(method: 'GET' | 'POST', path: string, call: PredictCall, accept: string, signal: AbortSignal, deadline?: number): Request {
    const headers: Record<string, string> = { accept, 'x-request-id': call.requestId, traceparent: call.traceparent }
    if (method === 'POST') headers['content-type'] = JSON_TYPE
    if (deadline !== undefined) headers[TIMEOUT_HEADER] = String(budgetLeftMs(deadline, performance.now()))
    return {
      origin: base.origin,
      method,
      path: `${prefix}${path}`,
      headers,
      ...(method === 'POST' && { body: call.body }),
      signal,
    }
  }

  // One JSON exchange within the budget, answered as predict's.
  function relay(method: 'GET' | 'POST', path: string, what: string, call: PredictCall): Promise<UpstreamAnswer> {
    return withBudget(what, call.signal, async (signal, deadline) => {
      const req = request(method, path, call, ANSWER_TYPES, signal, deadline)
      return answerOf(await send(req, pool, () => request(method, path, call, ANSWER_TYPES, signal, deadline)))
    })
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
