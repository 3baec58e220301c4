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

type Request = Dispatcher.RequestOptions & { signal: AbortSignal }

export function createHttpUpstream(config: HttpUpstreamConfig): Upstream {
  const base = new URL(config.mlUrl)
  const prefix = base.pathname.replace(/\/+$/, '')
  const options = {
    keepAliveTimeout: KEEP_ALIVE_MS,
    // The budget timer below decides between 502 and 504, so let it fire first.
    connectTimeout: Math.min(config.upstreamTimeoutMs + 1000, MAX_TIMER_MS),
  }
  const pool = new Pool(base.origin, { connections: 64, ...options })

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
  async function send(request: Request): Promise<Dispatcher.ResponseData> {
    try {
      return await pool.request(request)
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

  return {
    async start() {},

    // Resolves to { status, body, contentType } for 200 and the contract's
    // 4xx answers; throws UpstreamError otherwise.
    predict({ body, requestId, traceparent, signal: cancel }: PredictCall): Promise<UpstreamAnswer> {
      return withBudget('the prediction', cancel, async (signal) => {
        const res = await send({
          origin: base.origin,
          method: 'POST',
          path: `${prefix}/v1/predict`,
          headers: {
            'content-type': JSON_TYPE,
            accept: `${JSON_TYPE}, ${PROBLEM_TYPE}`,
            'x-request-id': requestId,
            traceparent,
          },
          body,
          signal,
        })
        const contentType = res.statusCode === 200 ? JSON_TYPE : PROBLEM_TYPE
        if (res.statusCode !== 200 && !(RELAYED_4XX.has(res.statusCode) && mediaType(res.headers) === PROBLEM_TYPE)) {
          await res.body.dump()
          throw new UpstreamError('server_error', `the ML service answered ${res.statusCode} (${mediaType(res.headers) || 'no Content-Type'})`)
        }
        const bytes = Buffer.from(await res.body.arrayBuffer())
        return { status: res.statusCode, body: bytes, contentType }
      })
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
      await pool.close()
    },
  }
}

function mediaType(headers: IncomingHttpHeaders): string {
  return (headers['content-type'] ?? '').split(';', 1)[0]?.trim().toLowerCase() ?? ''
}
