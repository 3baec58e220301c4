// Bearer JWTs (src/auth/), against a local identity provider's key set and
// real signed tokens, through whichever framework src/app.ts is built with:
// the 401s and the 503 are the Go gateway's, byte for byte.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, test, type TestContext } from 'node:test'
import { type CryptoKey, type JWK, type JWTPayload, SignJWT, UnsecuredJWT, exportJWK, exportSPKI, generateKeyPair } from 'jose'
import { pino } from 'pino'
import { buildApp } from '../src/app.ts'
import { createAuthenticator, loadAuthConfig, type AuthConfig } from '../src/auth/index.ts'
import { COOLDOWN_MS, MAX_AGE_MS } from '../src/auth/key-set.ts'
import { ConfigError } from '../src/config.ts'
import { Env } from '../src/env.ts'
import { HttpProblem } from '../src/problem.ts'
import { IRIS, call, predict, sleep, startApp, stubUpstream, testConfig } from './helpers.ts'

const ISSUER = 'https://idp.test/'
const AUDIENCE = 'https://api.test'

type Alg = 'RS256' | 'ES256' | 'EdDSA' | 'PS256'

// A key of the test provider: it signs tokens with its algorithm, and names
// itself in their kid.
interface SigningKey {
  kid: string
  alg: Alg
  privateKey: CryptoKey
  publicKey: CryptoKey
  jwk: JWK
}

async function signingKey(alg: Alg, kid: string): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg)
  return { kid, alg, privateKey, publicKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } }
}

// A valid token's claims, with overrides (undefined removes a claim).
function claims(overrides: Record<string, unknown> = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000)
  const all: Record<string, unknown> = { iss: ISSUER, aud: AUDIENCE, sub: 'alice', iat: now, exp: now + 3600, ...overrides }
  return Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined))
}

// A token of payload signed by key, or by secret with header.alg; the
// header names key's kid and algorithm unless told otherwise (kid null:
// none).
function sign(key: SigningKey, payload = claims(), header: { alg?: string; kid?: string | null } = {}, secret?: Uint8Array): Promise<string> {
  const alg = header.alg ?? key.alg
  const kid = header.kid === undefined ? key.kid : header.kid
  return new SignJWT(payload).setProtectedHeader(kid === null ? { alg } : { alg, kid }).sign(secret ?? key.privateKey)
}

// The test provider's key set, on 127.0.0.1.
interface Provider {
  url: string
  fetches: number
  publish(...keys: (SigningKey | JWK)[]): void
  // The status the key set is answered with (200 by default).
  status: number
  // When set, answers wait until it resolves.
  hold?: Promise<void>
}

async function startProvider(t: TestContext): Promise<Provider> {
  let keys: JWK[] = []
  const provider: Provider = {
    url: '',
    fetches: 0,
    status: 200,
    publish: (...published) => {
      keys = published.map((k) => ('jwk' in k ? k.jwk : k))
    },
  }
  const server = createServer((_req, res) => {
    provider.fetches += 1
    void (provider.hold ?? Promise.resolve()).then(() => {
      if (provider.status !== 200) res.writeHead(provider.status).end('unavailable')
      else res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify({ keys }))
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => {
    server.closeAllConnections()
    server.close()
  })
  provider.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`
  return provider
}

// A clock the tests move by hand (the key set's cooldown and age).
function clock() {
  let now = Date.now()
  return { now: () => now, advance: (ms: number) => (now += ms) }
}

function config(provider: Provider, overrides: Partial<AuthConfig> = {}): AuthConfig {
  return { jwksUrl: provider.url, jwtIssuer: ISSUER, jwtAudience: AUDIENCE, jwtAlgorithms: ['RS256', 'ES256', 'EdDSA'], jwtClockSkewS: 30, ...overrides }
}

// Log lines, as objects.
function capture() {
  const lines: Record<string, unknown>[] = []
  const log = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) })
  return { log, lines }
}

// An authenticator of provider's tokens on a clock of the test's, once its
// first fetch is over; authenticate() calls it with the header given.
async function tester(provider: Provider, overrides: Partial<AuthConfig> = {}, fetchTimeoutMs?: number) {
  const time = clock()
  const { log, lines } = capture()
  const auth = createAuthenticator(config(provider, overrides), log, {
    keySet: { now: time.now, ...(fetchTimeoutMs === undefined ? {} : { fetchTimeoutMs }) },
  })
  // The first fetch started with the authenticator; wait until it is over.
  for (let i = 0; provider.fetches === 0 && i < 200; i++) await sleep(5)
  await sleep(20)
  const authenticate = async (authorization?: string) => auth.authenticate(authorization === undefined ? {} : { authorization }, log)
  return { auth, authenticate, time, lines }
}

// The HttpProblem authenticate() throws (or a failure when it does not).
async function refusal(pending: Promise<string>): Promise<HttpProblem> {
  try {
    assert.fail(`accepted as ${await pending}`)
  } catch (err) {
    if (!(err instanceof HttpProblem)) throw err
    return err
  }
}

async function assertInvalid(pending: Promise<string>, what: string): Promise<void> {
  const err = await refusal(pending)
  assert.equal(err.status, 401, what)
  assert.equal(err.detail, 'the bearer token is not valid', what)
  assert.deepEqual(err.headers, { 'WWW-Authenticate': 'Bearer error="invalid_token"' }, what)
}

describe('JWT settings', () => {
  const env = (vars: Record<string, string>) =>
    new Env({ GATEWAY_JWKS_URL: 'https://idp.example.com/.well-known/jwks.json', GATEWAY_JWT_ISSUER: 'https://idp.example.com/', GATEWAY_JWT_AUDIENCE: 'https://api.example.com', ...vars })

  test('defaults', () => {
    assert.deepEqual(loadAuthConfig(env({})), {
      jwksUrl: 'https://idp.example.com/.well-known/jwks.json',
      jwtIssuer: 'https://idp.example.com/',
      jwtAudience: 'https://api.example.com',
      jwtAlgorithms: ['RS256', 'ES256'],
      jwtClockSkewS: 30,
    })
  })

  test('values', () => {
    const config = loadAuthConfig(env({
      GATEWAY_JWKS_URL: 'https://login.example.com/tenant/discovery/v2.0/keys?p=b2c_1_signin',
      GATEWAY_JWT_ISSUER: 'urn:example:issuer',
      GATEWAY_JWT_AUDIENCE: 'api://5f3c0a7e',
      GATEWAY_JWT_ALGORITHMS: 'EdDSA, PS256,EdDSA',
      GATEWAY_JWT_CLOCK_SKEW_S: '0',
    }))
    assert.equal(config.jwksUrl, 'https://login.example.com/tenant/discovery/v2.0/keys?p=b2c_1_signin')
    assert.deepEqual(config.jwtAlgorithms, ['EdDSA', 'PS256'])
    assert.equal(config.jwtClockSkewS, 0)
  })

  test('plain http only reaches a provider on this machine', () => {
    for (const url of ['http://localhost:8180/realms/dev/protocol/openid-connect/certs', 'http://127.0.0.1:9000/jwks.json', 'http://[::1]:9000/jwks.json', 'http://LOCALHOST/jwks']) {
      assert.equal(loadAuthConfig(env({ GATEWAY_JWKS_URL: url })).jwksUrl, url)
    }
  })

  for (const [name, value, expected] of [
    ['GATEWAY_JWKS_URL', '', /required/],
    ['GATEWAY_JWT_ISSUER', '', /required/],
    ['GATEWAY_JWT_AUDIENCE', '', /required/],
    ['GATEWAY_JWKS_URL', 'http://idp.example.com/jwks.json', /http:\/\/ only on localhost/],
    ['GATEWAY_JWKS_URL', 'http://10.0.0.7/jwks.json', /http:\/\/ only on localhost/],
    ['GATEWAY_JWKS_URL', 'http://localhost.example.com/jwks.json', /http:\/\/ only on localhost/],
    ['GATEWAY_JWKS_URL', 'ftp://idp.example.com/jwks.json', /https:\/\//],
    ['GATEWAY_JWKS_URL', 'idp.example.com/jwks.json', /https:\/\//],
    ['GATEWAY_JWKS_URL', 'https://user:s3cr3t@idp.example.com/jwks.json', /https:\/\//],
    ['GATEWAY_JWKS_URL', 'https://idp.example.com/jwks.json#keys', /https:\/\//],
    ['GATEWAY_JWT_ISSUER', 'https://idp.example.com/ x', /without spaces/],
    ['GATEWAY_JWT_AUDIENCE', ' api', /without spaces/],
    ['GATEWAY_JWT_ALGORITHMS', 'none', /never none or HS\*/],
    ['GATEWAY_JWT_ALGORITHMS', 'RS256,HS256', /never none or HS\*/],
    ['GATEWAY_JWT_ALGORITHMS', 'rs256', /RS256, RS384/],
    ['GATEWAY_JWT_ALGORITHMS', 'RS256,', /RS256, RS384/],
    ['GATEWAY_JWT_CLOCK_SKEW_S', '301', /from 0 to 300/],
    ['GATEWAY_JWT_CLOCK_SKEW_S', '-1', /from 0 to 300/],
    ['GATEWAY_JWT_CLOCK_SKEW_S', '30s', /from 0 to 300/],
  ] as const) {
    test(`${name}=${JSON.stringify(value)} is refused with the variable named`, () => {
      assert.throws(() => loadAuthConfig(env({ [name]: value })), (err: unknown) => {
        assert.ok(err instanceof ConfigError)
        assert.equal(err.variable, name)
        assert.match(err.message, expected)
        assert.doesNotMatch(err.message, /s3cr3t/)
        return true
      })
    })
  }
})

describe('bearer tokens', () => {
  test("the provider's tokens pass: the subject is the caller", async (t) => {
    const provider = await startProvider(t)
    const [rs, es, ed, rs2] = await Promise.all([signingKey('RS256', 'rs'), signingKey('ES256', 'es'), signingKey('EdDSA', 'ed'), signingKey('RS256', 'rs2')])
    provider.publish(rs, es, ed, rs2)
    const { authenticate } = await tester(provider)
    const now = Math.floor(Date.now() / 1000)
    for (const [what, authorization, caller] of [
      ['RS256', `Bearer ${await sign(rs)}`, 'alice'],
      ['ES256', `Bearer ${await sign(es, claims({ sub: 'bob' }))}`, 'bob'],
      ['EdDSA', `Bearer ${await sign(ed, claims({ sub: 'carol@example.com' }))}`, 'carol@example.com'],
      ['the scheme in any case', `bearer ${await sign(rs)}`, 'alice'],
      ['an audience among others', `Bearer ${await sign(rs, claims({ aud: ['other', AUDIENCE] }))}`, 'alice'],
      ['expired, within the clock skew', `Bearer ${await sign(rs, claims({ exp: now - 20 }))}`, 'alice'],
      ['valid from now, within the clock skew', `Bearer ${await sign(rs, claims({ nbf: now + 20, iat: now + 20 }))}`, 'alice'],
      ['no kid: each key of its type is tried', `Bearer ${await sign(rs2, claims(), { kid: null })}`, 'alice'],
    ] as const) {
      assert.equal(await authenticate(authorization), caller, what)
    }
    assert.equal(provider.fetches, 1)
  })

  test('no bearer token: 401 with the challenge alone', async (t) => {
    const provider = await startProvider(t)
    const rs = await signingKey('RS256', 'rs')
    provider.publish(rs)
    const { authenticate } = await tester(provider)
    const token = await sign(rs)
    for (const authorization of [undefined, 'Basic YWxpY2U6eA==', `Token ${token}`, `JWT ${token}`, 'Bearer', token]) {
      const err = await refusal(authenticate(authorization))
      assert.equal(err.status, 401)
      assert.equal(err.detail, 'send a bearer token: Authorization: Bearer <token>')
      assert.deepEqual(err.headers, { 'WWW-Authenticate': 'Bearer' })
    }
  })

  test("tokens that do not pass: 401, the reason logged, never the token", async (t) => {
    const provider = await startProvider(t)
    const [rs, es, ps, impostor, elsewhere] = await Promise.all([
      signingKey('RS256', 'rs'), signingKey('ES256', 'es'), signingKey('PS256', 'ps'), signingKey('RS256', 'rs'), signingKey('RS256', 'elsewhere'),
    ])
    provider.publish(rs, es, ps)
    const { authenticate, lines } = await tester(provider, { jwtAlgorithms: ['RS256', 'ES256'] })
    const now = Math.floor(Date.now() / 1000)
    const publicPem = new TextEncoder().encode(await exportSPKI(rs.publicKey))
    const modulus = Buffer.from(rs.jwk.n ?? '', 'base64url')
    const valid = (await sign(rs)).split('.')
    const other = (await sign(rs, claims({ sub: 'mallory' }))).split('.')
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

    for (const [what, token, reason] of [
      ['expired', await sign(rs, claims({ exp: now - 60 })), 'expired'],
      ['not valid yet (nbf)', await sign(rs, claims({ nbf: now + 60 })), 'not yet valid'],
      ['issued in the future (iat)', await sign(rs, claims({ iat: now + 60 })), 'not yet valid'],
      ['another audience', await sign(rs, claims({ aud: 'https://other.test' })), 'audience'],
      ['no audience', await sign(rs, claims({ aud: undefined })), 'audience'],
      ['another issuer', await sign(rs, claims({ iss: 'https://evil.test/' })), 'issuer'],
      ['no issuer', await sign(rs, claims({ iss: undefined })), 'issuer'],
      ['no subject', await sign(rs, claims({ sub: undefined })), 'no subject'],
      ['an empty subject', await sign(rs, claims({ sub: '' })), 'no subject'],
      ['no expiry', await sign(rs, claims({ exp: undefined })), 'no expiry'],
      ['alg none', new UnsecuredJWT(claims()).encode(), 'algorithm'],
      // The classic confusion: HMAC keyed with the RSA public key, which
      // anyone can fetch from the key set.
      ['HS256 keyed with the RSA public key', await sign(rs, claims(), { alg: 'HS256' }, publicPem), 'algorithm'],
      ['HS256 keyed with the RSA modulus', await sign(rs, claims(), { alg: 'HS256' }, modulus), 'algorithm'],
      ['an algorithm not accepted (PS256)', await sign(ps), 'algorithm'],
      ['an unknown algorithm', `${b64({ alg: 'XY123', kid: 'rs' })}.${valid[1]}.${valid[2]}`, 'algorithm'],
      ['RS256 under the kid of an EC key', await sign(rs, claims(), { kid: 'es' }), 'unknown key'],
      ['signed by another key under a known kid', await sign(impostor), 'signature'],
      ['claims swapped after signing', `${valid[0]}.${other[1]}.${valid[2]}`, 'signature'],
      ['an unknown kid', await sign(elsewhere), 'unknown key'],
      ['not a JWT', 'not-a-jwt', 'malformed'],
      ['three bad parts', 'a.b.c', 'malformed'],
    ] as const) {
      await assertInvalid(authenticate(`Bearer ${token}`), what)
      const last = lines.at(-1)
      assert.equal(last?.msg, 'bearer token refused', what)
      assert.equal(last.reason, reason, what)
      assert.ok(!JSON.stringify(lines).includes(token), `${what}: the log shows the token`)
    }
  })

  // An unknown kid fetches the key set again, once per cooldown: after a
  // rotation, the new key's tokens pass once the cooldown since the last
  // fetch is over, and the withdrawn key's tokens no longer do.
  test('key rotation', async (t) => {
    const provider = await startProvider(t)
    const [old, next] = await Promise.all([signingKey('RS256', '2026-01'), signingKey('ES256', '2026-02')])
    provider.publish(old)
    const { authenticate, time } = await tester(provider)
    assert.equal(await authenticate(`Bearer ${await sign(old)}`), 'alice')

    provider.publish(next) // the provider rotates
    time.advance(COOLDOWN_MS - 1000)
    await assertInvalid(authenticate(`Bearer ${await sign(next)}`), 'the new key during the cooldown')
    assert.equal(provider.fetches, 1)

    time.advance(1000)
    assert.equal(await authenticate(`Bearer ${await sign(next)}`), 'alice')
    assert.equal(provider.fetches, 2)
    await assertInvalid(authenticate(`Bearer ${await sign(old)}`), 'the withdrawn key')
  })

  test('a flood of unknown kids costs one fetch per cooldown', async (t) => {
    const provider = await startProvider(t)
    const rs = await signingKey('RS256', 'rs')
    provider.publish(rs)
    const { authenticate, time } = await tester(provider)
    time.advance(COOLDOWN_MS)
    const tokens = await Promise.all(Array.from({ length: 50 }, (_, i) => sign(rs, claims(), { kid: `kid-${i}` })))
    const flood = () => Promise.all(tokens.map((token) => assertInvalid(authenticate(`Bearer ${token}`), 'an unknown kid')))
    await flood()
    assert.equal(provider.fetches, 2, 'the first fetch and one more')
    await flood()
    assert.equal(provider.fetches, 2, 'none more within the cooldown')
    assert.equal(await authenticate(`Bearer ${await sign(rs)}`), 'alice')
  })

  // Without a key set (the provider does not answer), requests get a 503 and
  // the provider one fetch per cooldown; once it answers, tokens pass. Not
  // ready meanwhile.
  test('no key set: 503, one fetch per cooldown', async (t) => {
    const provider = await startProvider(t)
    const rs = await signingKey('RS256', 'rs')
    provider.publish(rs)
    provider.status = 500
    const { auth, authenticate, time, lines } = await tester(provider)
    await assert.rejects(auth.ready?.() ?? Promise.resolve(), (err: unknown) => err instanceof HttpProblem && err.status === 503)
    const token = `Bearer ${await sign(rs)}`
    for (let i = 0; i < 3; i++) {
      const err = await refusal(authenticate(token))
      assert.equal(err.status, 503)
      assert.equal(err.detail, "the gateway cannot check tokens now: its identity provider's keys are unavailable")
      assert.deepEqual(err.headers, { 'Retry-After': '1' })
    }
    assert.equal(provider.fetches, 1)
    assert.ok(lines.some((l) => l.msg === "could not fetch the identity provider's keys"), 'the failed fetch is logged')

    provider.status = 200
    time.advance(COOLDOWN_MS)
    await auth.ready?.()
    assert.equal(await authenticate(token), 'alice')
    assert.equal(provider.fetches, 2)
  })

  test('a token that cannot be a JWT fetches nothing', async (t) => {
    const provider = await startProvider(t)
    provider.status = 500
    const { authenticate, time } = await tester(provider)
    time.advance(COOLDOWN_MS)
    await assertInvalid(authenticate('Bearer not-a-jwt'), 'not a JWT')
    assert.equal(provider.fetches, 1)
  })

  test('a key set older than its maximum age is fetched again, in the background', async (t) => {
    const provider = await startProvider(t)
    const rs = await signingKey('RS256', 'rs')
    provider.publish(rs)
    const { authenticate, time } = await tester(provider)
    provider.publish() // withdrawn: the next fetch finds no key
    time.advance(MAX_AGE_MS)
    assert.equal(await authenticate(`Bearer ${await sign(rs)}`), 'alice', 'with the keys it has')
    for (let i = 0; provider.fetches < 2 && i < 200; i++) await sleep(5)
    await sleep(20)
    assert.equal(provider.fetches, 2)
    await assertInvalid(authenticate(`Bearer ${await sign(rs)}`), 'a key withdrawn since')
  })

  test('a provider that does not answer in time: 503 after the fetch timeout', async (t) => {
    const provider = await startProvider(t)
    provider.hold = new Promise(() => {})
    const { authenticate } = await tester(provider, {}, 100)
    const started = performance.now()
    const err = await refusal(authenticate(`Bearer ${await sign(await signingKey('RS256', 'rs'))}`))
    assert.equal(err.status, 503)
    assert.ok(performance.now() - started < 2000)
  })

  test('a redirect is a failed fetch: only the configured URL is trusted', async (t) => {
    const provider = await startProvider(t)
    const rs = await signingKey('RS256', 'rs')
    provider.publish(rs)
    const redirect = createServer((_req, res) => res.writeHead(302, { location: provider.url }).end())
    redirect.listen(0, '127.0.0.1')
    await once(redirect, 'listening')
    t.after(() => redirect.close())
    const { authenticate } = await tester({ ...provider, url: `http://127.0.0.1:${(redirect.address() as AddressInfo).port}/jwks.json` })
    assert.equal((await refusal(authenticate(`Bearer ${await sign(rs)}`))).status, 503)
    assert.equal(provider.fetches, 0)
  })

  test('keys meant for something else than signatures are left out', async (t) => {
    const provider = await startProvider(t)
    const [sig, enc, ops] = await Promise.all([signingKey('RS256', 'sig'), signingKey('RS256', 'enc'), signingKey('RS256', 'ops')])
    const opsJwk: JWK = { ...ops.jwk, key_ops: ['encrypt'] }
    delete opsJwk.use
    provider.publish(sig, { ...enc.jwk, use: 'enc' }, opsJwk)
    const { authenticate } = await tester(provider)
    assert.equal(await authenticate(`Bearer ${await sign(sig)}`), 'alice')
    await assertInvalid(authenticate(`Bearer ${await sign(enc)}`), 'use enc')
    await assertInvalid(authenticate(`Bearer ${await sign(ops)}`), 'key_ops encrypt')
  })
})

describe('bearer tokens on /v1/predict', () => {
  const MISSING = '{"type":"about:blank","title":"Unauthorized","status":401,"detail":"send a bearer token: Authorization: Bearer <token>","instance":"/v1/predict","request_id":"r1"}'
  const INVALID = '{"type":"about:blank","title":"Unauthorized","status":401,"detail":"the bearer token is not valid","instance":"/v1/predict","request_id":"r1"}'
  const NO_KEYS = '{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"the gateway cannot check tokens now: its identity provider\'s keys are unavailable","instance":"/v1/predict","request_id":"r1"}'

  async function start(t: TestContext, status = 200) {
    const provider = await startProvider(t)
    const rs = await signingKey('RS256', 'rs')
    provider.publish(rs)
    provider.status = status
    const upstream = stubUpstream()
    const running = await startApp(t, { upstream, authenticator: null, config: config(provider) })
    return { ...running, upstream, rs }
  }

  test('401s: WWW-Authenticate, the Go gateway\'s bytes, no call upstream', async (t) => {
    const { base, upstream, rs } = await start(t)
    const expired = await sign(rs, claims({ exp: Math.floor(Date.now() / 1000) - 3600 }))
    for (const [what, authorization, contentType, challenge, body] of [
      ['no token', undefined, 'application/json', 'Bearer', MISSING],
      ['another scheme', 'Basic YWxpY2U6eA==', 'application/json', 'Bearer', MISSING],
      ['an expired token', `Bearer ${expired}`, 'application/json', 'Bearer error="invalid_token"', INVALID],
      ['not a token', 'Bearer wrong-key', 'application/json', 'Bearer error="invalid_token"', INVALID],
      // 401 comes before 415: a stranger learns nothing of the API.
      ['no token, wrong type', undefined, 'text/plain', 'Bearer', MISSING],
    ] as const) {
      const headers: Record<string, string> = { 'content-type': contentType, 'x-request-id': 'r1' }
      if (authorization) headers.authorization = authorization
      const res = await call(base, 'POST', '/v1/predict', { headers, body: JSON.stringify(IRIS) })
      assert.equal(res.status, 401, what)
      assert.equal(res.headers.get('www-authenticate'), challenge, what)
      assert.equal(res.headers.get('content-type'), 'application/problem+json', what)
      assert.equal(res.body, body, what)
    }
    assert.equal(upstream.calls.length, 0)
  })

  test('a valid token: 200', async (t) => {
    const { base, upstream, rs } = await start(t)
    assert.equal((await predict(base, IRIS, { authorization: `Bearer ${await sign(rs)}` })).status, 200)
    assert.equal(upstream.calls.length, 1)
  })

  test('no key set: 503 with Retry-After, the Go gateway\'s bytes', async (t) => {
    const { base, upstream, rs } = await start(t, 502)
    const res = await call(base, 'POST', '/v1/predict', {
      headers: { 'content-type': 'application/json', 'x-request-id': 'r1', authorization: `Bearer ${await sign(rs)}` },
      body: JSON.stringify(IRIS),
    })
    assert.equal(res.status, 503)
    assert.equal(res.headers.get('retry-after'), '1')
    assert.equal(res.body, NO_KEYS)
    assert.equal(upstream.calls.length, 0)
  })

  test('the probes need no token', async (t) => {
    const { base } = await start(t)
    assert.equal((await call(base, 'GET', '/healthz')).status, 200)
    assert.equal((await call(base, 'GET', '/readyz')).status, 200)
  })

  // Predictions would get 503: not ready either, alive all the same.
  test('no key set: /readyz 503, the Go gateway\'s bytes', async (t) => {
    const { base } = await start(t, 503)
    const res = await call(base, 'GET', '/readyz', { headers: { 'x-request-id': 'r1' } })
    assert.equal(res.status, 503)
    assert.equal(res.headers.get('retry-after'), '1')
    assert.equal(res.body, NO_KEYS.replace('/v1/predict', '/readyz'))
    assert.equal((await call(base, 'GET', '/healthz')).status, 200)
  })

  test('the access log names the subject, never the token', async (t) => {
    const provider = await startProvider(t)
    const rs = await signingKey('RS256', 'rs')
    provider.publish(rs)
    const { log, lines } = capture()
    const app = buildApp(testConfig(config(provider)), { logger: log, createUpstream: () => stubUpstream() })
    t.after(() => app.close())
    await app.listen({ host: '127.0.0.1', port: 0 })
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
    const token = await sign(rs, claims({ sub: 'svc-billing' }))
    assert.equal((await predict(base, IRIS, { authorization: `Bearer ${token}` })).status, 200)
    const expired = await sign(rs, claims({ exp: 1 }))
    assert.equal((await predict(base, IRIS, { authorization: `Bearer ${expired}` })).status, 401)
    await app.close()
    const completed = lines.filter((l) => l.msg === 'request completed')
    assert.deepEqual(completed.map((l) => l.caller), ['svc-billing', undefined])
    assert.ok(lines.some((l) => l.msg === 'bearer token refused' && l.reason === 'expired'))
    assert.ok(!JSON.stringify(lines).includes(token) && !JSON.stringify(lines).includes(expired), 'the log shows a token')
  })
})
