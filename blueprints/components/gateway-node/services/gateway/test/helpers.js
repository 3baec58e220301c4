// Shared test helpers (not a test file: `npm test` runs test/*.test.js).
import assert from 'node:assert/strict'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'

export function testConfig(overrides = {}) {
  return Object.freeze({ ...loadConfig({}), logLevel: 'silent', ...overrides })
}

// An upstream that records its calls and answers with `answer`
// (an object, or a function of the call).
export function stubUpstream(answer = { status: 200, body: Buffer.from('{"ok":true}'), contentType: 'application/json' }) {
  return {
    calls: [],
    ready: async () => {},
    async start() {},
    async close() {},
    async predict(call) {
      this.calls.push(call)
      return typeof answer === 'function' ? answer(call) : answer
    },
  }
}

// A ready app with `upstream` (a stub by default) and a test config.
export async function testApp(t, { upstream = stubUpstream(), config = {}, createUpstream } = {}) {
  const app = buildApp(testConfig(config), {
    logger: false,
    createUpstream: createUpstream ?? (() => upstream),
  })
  t.after(() => app.close())
  await app.ready()
  return app
}

export function predict(app, body, headers = {}) {
  return app.inject({
    method: 'POST',
    url: '/v1/predict',
    headers: { 'content-type': 'application/json', ...headers },
    payload: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
  })
}

// Asserts a contract problem response and returns its body.
export function assertProblem(res, status, title, instance = '/v1/predict') {
  assert.equal(res.statusCode, status, res.body)
  assert.equal(res.headers['content-type'], 'application/problem+json')
  const requestId = res.headers['x-request-id']
  assert.ok(requestId, 'X-Request-ID is set')
  const body = res.json()
  assert.deepEqual(Object.keys(body), ['type', 'title', 'status', 'detail', 'instance', 'request_id'])
  assert.equal(body.type, 'about:blank')
  assert.equal(body.title, title)
  assert.equal(body.status, status)
  assert.equal(typeof body.detail, 'string')
  assert.equal(body.instance, instance)
  assert.equal(body.request_id, requestId)
  return body
}

export const HEX32 = /^[0-9a-f]{32}$/
