// HTTP transport: POST the request body to the ML service over a keep-alive
// connection pool, with one time budget for the whole exchange.
import { Pool } from 'undici'
import { JSON_TYPE, PROBLEM_TYPE } from '../problem.js'
import { UpstreamError } from './errors.js'

export function createHttpUpstream(config) {
  const base = new URL(config.mlUrl)
  const prefix = base.pathname.replace(/\/+$/, '')
  const pool = new Pool(base.origin, {
    connections: 64,
    keepAliveTimeout: 30_000,
    // The budget timer below decides between 502 and 504, so let it fire first.
    connectTimeout: config.upstreamTimeoutMs + 1000,
  })

  // Run `fn(signal)` with the upstream time budget; a timeout is an
  // UpstreamError("timeout"), any other failure "unavailable".
  async function withBudget(what, fn) {
    const controller = new AbortController()
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      controller.abort()
    }, config.upstreamTimeoutMs)
    try {
      return await fn(controller.signal)
    } catch (err) {
      if (err instanceof UpstreamError) throw err
      if (timedOut) {
        throw new UpstreamError('timeout', `the ML service did not answer ${what} within ${config.upstreamTimeoutMs} ms`, { cause: err })
      }
      throw new UpstreamError('unavailable', `the ML service is unreachable: ${err.code ?? err.message}`, { cause: err })
    } finally {
      clearTimeout(timer)
    }
  }

  return {
    async start() {},

    // body: the client's JSON bytes. Resolves to { status, body, contentType }
    // for 200 and 4xx answers; throws UpstreamError otherwise.
    predict({ body, requestId, traceparent }) {
      return withBudget('the prediction', async (signal) => {
        const res = await pool.request({
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
        if (res.statusCode >= 500 || (res.statusCode < 400 && res.statusCode !== 200)) {
          await res.body.dump()
          throw new UpstreamError('server_error', `the ML service answered ${res.statusCode}`)
        }
        const bytes = Buffer.from(await res.body.arrayBuffer())
        const contentType = res.statusCode === 200 ? JSON_TYPE : mediaType(res.headers['content-type'])
        return { status: res.statusCode, body: bytes, contentType }
      })
    },

    // Resolves when GET /readyz on the ML service answers 200.
    ready() {
      return withBudget('/readyz', async (signal) => {
        const res = await pool.request({ method: 'GET', path: `${prefix}/readyz`, signal })
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

// Relayed 4xx answers keep problem+json when the ML service sent it.
function mediaType(header) {
  const type = String(header ?? '').split(';', 1)[0].trim().toLowerCase()
  return type === PROBLEM_TYPE ? PROBLEM_TYPE : JSON_TYPE
}
