// API keys (src/auth/index.ts), through whichever framework src/app.ts is
// built with: the 401s are the Go gateway's, byte for byte.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { describe, test, type TestContext } from 'node:test'
import { pino } from 'pino'
import { buildApp } from '../src/app.ts'
import { loadAuthConfig } from '../src/auth/index.ts'
import { ConfigError } from '../src/config.ts'
import { Env } from '../src/env.ts'
import { IRIS, call, predict, startApp, stubUpstream, testConfig } from './helpers.ts'

const sha256 = (key: string): string => createHash('sha256').update(key).digest('hex')
const ALICE = `alice:${sha256('alice-secret-key')}`
const load = (value: string) => loadAuthConfig(new Env({ GATEWAY_API_KEYS: value }))

const MISSING = '{"type":"about:blank","title":"Unauthorized","status":401,"detail":"send an API key: Authorization: Bearer <key>","instance":"/v1/predict","request_id":"r1"}'
const INVALID = '{"type":"about:blank","title":"Unauthorized","status":401,"detail":"the API key is not valid","instance":"/v1/predict","request_id":"r1"}'

describe('GATEWAY_API_KEYS', () => {
  test('reads name:sha256hex pairs', () => {
    assert.deepEqual(load(''), { apiKeys: [] })
    const bob = `bob.2_x-y:${sha256('bob')}`
    assert.deepEqual(load(`${ALICE},${bob},`).apiKeys.map((k) => [k.name, k.hash.toString('hex')]), [
      ['alice', sha256('alice-secret-key')],
      ['bob.2_x-y', sha256('bob')],
    ])
  })

  const h = 'ab'.repeat(32)
  for (const [value, message] of [
    ['alice', /"entry 1 \(alice\)".*64 lowercase hex/],
    [`alice:${h.slice(2)}`, /"entry 1 \(alice\)".*64 lowercase hex/],
    [`alice:${h.toUpperCase()}`, /"entry 1 \(alice\)".*64 lowercase hex/],
    [`:${h}`, /"entry 1".*name:sha256hex/],
    [`al ice:${h}`, /"entry 1".*name:sha256hex/],
    [`${'a'.repeat(65)}:${h}`, /"entry 1".*name:sha256hex/],
    [`alice:${h},alice:${h}`, /"entry 2 \(alice\)".*each name once/],
  ] as const) {
    test(`refuses ${value.slice(0, 20)}..., never showing the hash`, () => {
      assert.throws(() => load(value), (err: unknown) => {
        assert.ok(err instanceof ConfigError)
        assert.match(err.message, message)
        assert.doesNotMatch(err.message, /abababab/)
        return true
      })
    })
  }
})

async function start(t: TestContext) {
  const upstream = stubUpstream()
  const running = await startApp(t, { upstream, authenticator: null, config: load(ALICE) })
  return { ...running, upstream }
}

describe('API keys on /v1/predict', () => {
  for (const [name, authorization, contentType, challenge, body] of [
    ['no key', undefined, 'application/json', 'Bearer', MISSING],
    ['another scheme', 'Basic YWxpY2U6eA==', 'application/json', 'Bearer', MISSING],
    ['"Bearer" alone', 'Bearer', 'application/json', 'Bearer', MISSING],
    ['a wrong key', 'Bearer wrong-key', 'application/json', 'Bearer error="invalid_token"', INVALID],
    ['the key in another case', 'Bearer ALICE-SECRET-KEY', 'application/json', 'Bearer error="invalid_token"', INVALID],
    // 401 comes before 415: a stranger learns nothing of the API.
    ['no key, wrong type', undefined, 'text/plain', 'Bearer', MISSING],
  ] as const) {
    test(`${name}: 401, WWW-Authenticate, the Go gateway's bytes, no call upstream`, async (t) => {
      const { base, upstream } = await start(t)
      const headers: Record<string, string> = { 'content-type': contentType, 'x-request-id': 'r1' }
      if (authorization) headers.authorization = authorization
      const res = await call(base, 'POST', '/v1/predict', { headers, body: JSON.stringify(IRIS) })
      assert.equal(res.status, 401)
      assert.equal(res.headers.get('www-authenticate'), challenge)
      assert.equal(res.headers.get('content-type'), 'application/problem+json')
      assert.equal(res.body, body)
      assert.equal(upstream.calls.length, 0)
    })
  }

  test('the right key: 200 (the scheme in any case)', async (t) => {
    const { base, upstream } = await start(t)
    assert.equal((await predict(base, IRIS, { authorization: 'Bearer alice-secret-key' })).status, 200)
    assert.equal((await predict(base, IRIS, { authorization: 'bearer alice-secret-key' })).status, 200)
    assert.equal(upstream.calls.length, 2)
  })

  test('the probes need no key', async (t) => {
    const { base } = await start(t)
    assert.equal((await call(base, 'GET', '/healthz')).status, 200)
    assert.equal((await call(base, 'GET', '/readyz')).status, 200)
  })

  test("the access log names the caller, never the key", async (t) => {
    const lines: string[] = []
    const app = buildApp(testConfig(load(ALICE)), {
      logger: pino({ level: 'info' }, { write: (line: string) => lines.push(line) }),
      createUpstream: () => stubUpstream(),
    })
    t.after(() => app.close())
    await app.listen({ host: '127.0.0.1', port: 0 })
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
    assert.equal((await predict(base, IRIS, { authorization: 'Bearer alice-secret-key' })).status, 200)
    assert.equal((await predict(base, IRIS, { authorization: 'Bearer wrong-key' })).status, 401)
    await app.close()
    const completed = lines.map((l) => JSON.parse(l) as { msg: string; caller?: string }).filter((l) => l.msg === 'request completed')
    assert.deepEqual(completed.map((l) => l.caller), ['alice', undefined])
    assert.doesNotMatch(lines.join(''), /alice-secret-key|wrong-key/)
  })
})
