// Where the rate limiter sits on /v1/predict, through whichever framework
// src/app.ts is built with, with a limiter that answers as told: after the
// drain and the caller (401), before the media type (415); its headers on
// every answer after it; its refusals as problems (the Go gateway's bytes).
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Authenticator } from '../src/auth/authenticator.ts'
import { HttpProblem, unavailable } from '../src/problem.ts'
import type { LimitedRequest, RateLimiter } from '../src/ratelimit/limiter.ts'
import { IRIS, predict, startApp, stubUpstream } from './helpers.ts'

const HEADERS = { 'RateLimit-Policy': '"default";q=60;w=60', RateLimit: '"default";r=0;t=3' }

// Names every caller alice, or refuses as told.
function auth(refuse = false): Authenticator {
  return {
    authenticate() {
      if (refuse) throw new HttpProblem(401, 'no key', { headers: { 'WWW-Authenticate': 'Bearer' } })
      return 'alice'
    },
  }
}

// Answers with HEADERS, or throws `refusal`; records what it was asked.
function limiter(refusal?: HttpProblem): RateLimiter & { asked: LimitedRequest[] } {
  const asked: LimitedRequest[] = []
  return {
    asked,
    async limit(request) {
      asked.push(request)
      if (refusal) throw refusal
      return HEADERS
    },
    async close() {},
  }
}

const spent = () => new HttpProblem(429, 'spent', { headers: { ...HEADERS, 'Retry-After': '3' } })

describe('the rate limit on /v1/predict', () => {
  for (const [name, refuse, refusal, contentType, status, retryAfter, limited] of [
    ['allowed', false, undefined, 'application/json', 200, null, true],
    ['allowed, then 415', false, undefined, 'text/plain', 415, null, true],
    ['spent', false, spent(), 'application/json', 429, '3', true],
    ['429 before 415', false, spent(), 'text/plain', 429, '3', true],
    ['401 before 429', true, spent(), 'application/json', 401, null, false],
    ['fails closed', false, unavailable('down'), 'application/json', 503, '1', true],
  ] as const) {
    test(name, async (t) => {
      const upstream = stubUpstream()
      const rateLimiter = limiter(refusal)
      const { base } = await startApp(t, { upstream, authenticator: auth(refuse), rateLimiter })
      const res = await predict(base, IRIS, { 'content-type': contentType })
      assert.equal(res.status, status, res.body)
      assert.equal(res.headers.get('retry-after'), retryAfter)
      assert.equal(rateLimiter.asked.length, limited ? 1 : 0)
      const [asked] = rateLimiter.asked
      if (limited) {
        assert.ok(asked)
        assert.equal(asked.caller, 'alice')
        assert.equal(asked.remoteAddress, '127.0.0.1')
        if (status !== 503) {
          assert.equal(res.headers.get('ratelimit'), HEADERS.RateLimit)
          assert.equal(res.headers.get('ratelimit-policy'), HEADERS['RateLimit-Policy'])
        }
      }
      assert.equal(upstream.calls.length, status === 200 ? 1 : 0)
    })
  }

  test('a 429 is a problem of the quota-exceeded type, the Go gateway\'s bytes', async (t) => {
    const { base } = await startApp(t, { authenticator: auth(), rateLimiter: limiter(spent()) })
    const res = await predict(base, IRIS, { 'x-request-id': 'r1' })
    assert.equal(res.headers.get('content-type'), 'application/problem+json')
    assert.equal(res.body, '{"type":"https://iana.org/assignments/http-problem-types#quota-exceeded","title":"Too Many Requests","status":429,"detail":"spent","instance":"/v1/predict","request_id":"r1"}')
  })
})
