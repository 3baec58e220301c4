// Shared test helpers (not a test file: `npm test` runs test/*.test.ts).
// Every test runs the app of src/app.ts, whichever framework it is built
// with, over real HTTP on a free port.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import net from 'node:net'
import type { TestContext } from 'node:test'
import { pino } from 'pino'
import { buildApp } from '../src/app.ts'
import { type Config, loadConfig } from '../src/config.ts'
import type { GatewayApp } from '../src/gateway-app.ts'
import type { PredictCall, Upstream, UpstreamAnswer, UpstreamDeps } from '../src/upstream/upstream.ts'
import type { Authenticator } from '../src/auth/authenticator.ts'
import type { RateLimiter } from '../src/ratelimit/limiter.ts'
import type { ChatOptions } from '../src/chat/index.ts'
import { AUTH_ENV, AUTH_HEADERS } from './auth-fixtures.ts'

// What a gateway process needs to accept the predicts of predict() (its
// environment, beside what its configuration requires), from the auth
// component's test/auth-fixtures.ts.
export { AUTH_ENV }

export const HEX32 = /^[0-9a-f]{32}$/
export const IRIS = { instances: [[5.1, 3.5, 1.4, 0.2]] }
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

// The configuration of an environment that holds only what the auth mode
// needs (AUTH_ENV), with overrides.
export function testConfig(overrides: Partial<Config> = {}): Config {
  return Object.freeze({ ...loadConfig({ ...AUTH_ENV }), logLevel: 'silent', ...overrides })
}

export interface StubUpstream extends Upstream {
  calls: PredictCall[]
}

const OK: UpstreamAnswer = { status: 200, body: Buffer.from('{"ok":true}'), contentType: 'application/json' }

// An upstream that records its calls and answers with `answer` (an answer,
// or a function of the call).
export function stubUpstream(answer: UpstreamAnswer | ((call: PredictCall) => UpstreamAnswer | Promise<UpstreamAnswer>) = OK): StubUpstream {
  const calls: PredictCall[] = []
  return {
    calls,
    async ready() {},
    async start() {},
    async close() {},
    async predict(call) {
      calls.push(call)
      return typeof answer === 'function' ? answer(call) : answer
    },
  }
}

export interface Running {
  app: GatewayApp
  base: string
  port: number
}

export interface AppSetup {
  // Default: a stub (stubUpstream()); null: the transport of src/upstream/.
  upstream?: Upstream | null
  createUpstream?: (deps: UpstreamDeps) => Upstream
  // Default: anyone may call (test/auth.test.ts tests the authentication);
  // null: the authentication of src/auth/, built from the config.
  authenticator?: Authenticator | null
  // Default: no limit (the rate limiter's own tests test it); null: the
  // rate limiter of src/ratelimit/, built from the config.
  rateLimiter?: RateLimiter | null
  // What the chat completions API gets (streaming = true: its transport).
  chat?: ChatOptions
  config?: Partial<Config>
}

// Lets every caller in, nameless.
export const ANYONE: Authenticator = { authenticate: () => '' }

// The app listening on a free port of 127.0.0.1, closed after the test.
export async function startApp(t: TestContext, { upstream = stubUpstream(), createUpstream, authenticator = ANYONE, rateLimiter, chat, config = {} }: AppSetup = {}): Promise<Running> {
  const create = createUpstream ?? (upstream === null ? undefined : () => upstream)
  const app = buildApp(testConfig(config), {
    logger: pino({ level: 'silent' }),
    ...(create ? { createUpstream: create } : {}),
    ...(authenticator ? { authenticator } : {}),
    ...(rateLimiter === null ? {} : { createRateLimiter: () => rateLimiter }),
    ...(chat ? { chat } : {}),
  })
  t.after(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  return { app, base: `http://127.0.0.1:${port}`, port }
}

export interface Res {
  status: number
  headers: Headers
  bytes: Buffer
  body: string
  json: () => unknown
}

export interface CallOptions {
  headers?: Record<string, string>
  body?: string | Buffer
  signal?: AbortSignal
}

export async function call(base: string, method: string, path: string, { headers = {}, body, signal }: CallOptions = {}): Promise<Res> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    // A Uint8Array: fetch adds no Content-Type of its own.
    ...(body === undefined ? {} : { body: typeof body === 'string' ? new TextEncoder().encode(body) : new Uint8Array(body) }),
    ...(signal ? { signal } : {}),
  })
  const bytes = Buffer.from(await res.arrayBuffer())
  const text = bytes.toString('utf8')
  return { status: res.status, headers: res.headers, bytes, body: text, json: () => JSON.parse(text) as unknown }
}

// A predict with the credential AUTH_ENV accepts (unless headers replace it).
export function predict(base: string, body: unknown, headers: Record<string, string> = {}): Promise<Res> {
  return call(base, 'POST', '/v1/predict', {
    headers: { 'content-type': 'application/json', ...AUTH_HEADERS, ...headers },
    body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
  })
}

export interface ProblemBody {
  type: string
  title: string
  status: number
  detail: string
  instance: string
  request_id: string
}

// Asserts a contract problem response and returns its body.
export function assertProblem(res: Pick<Res, 'status' | 'headers' | 'body'>, status: number, title: string, instance = '/v1/predict'): ProblemBody {
  assert.equal(res.status, status, res.body)
  assert.equal(res.headers.get('content-type'), 'application/problem+json')
  const requestId = res.headers.get('x-request-id')
  assert.ok(requestId, 'X-Request-ID is set')
  const body = JSON.parse(res.body) as ProblemBody
  assert.deepEqual(Object.keys(body), ['type', 'title', 'status', 'detail', 'instance', 'request_id'])
  assert.equal(body.type, 'about:blank')
  assert.equal(body.title, title)
  assert.equal(body.status, status)
  assert.equal(typeof body.detail, 'string')
  assert.equal(body.instance, instance)
  assert.equal(body.request_id, requestId)
  return body
}

export async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  server.close()
  await once(server, 'close')
  return port
}

export async function metricsText(app: GatewayApp): Promise<string> {
  return app.metrics.registry.metrics()
}
