// The rate limiter (src/ratelimit/): its settings; the client's address;
// GCRA against a real Redis (REDIS_URL): burst, refill, retry-after, one
// budget across replicas, keys that expire, the script loaded again; the
// fail modes; and the 429 through whichever framework src/app.ts is built
// with, the Go gateway's bytes.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, test, type TestContext } from 'node:test'
import { Redis } from 'ioredis'
import { pino } from 'pino'
import client from 'prom-client'
import { ConfigError } from '../src/config.ts'
import { Env } from '../src/env.ts'
import { HttpProblem } from '../src/problem.ts'
import { canonicalAddress, clientIp, trustedProxyList } from '../src/ratelimit/client-ip.ts'
import { DEFAULT_RATE_LIMIT, type RateLimitConfig, defaultBurst, loadRateLimitConfig } from '../src/ratelimit/index.ts'
import { createRedisRateLimiter, type RedisRateLimiter } from '../src/ratelimit/redis-limiter.ts'
import { IRIS, freePort, predict, sleep, startApp } from './helpers.ts'

const REDIS_URL = process.env.REDIS_URL ?? ''
const skip = REDIS_URL ? false : 'REDIS_URL is not set'
// Never a silent skip: without a Redis server the suite fails, and says how to get one.
test('REDIS_URL names the Redis server the rate limiter tests run against', () => {
  assert.ok(REDIS_URL, 'REDIS_URL is not set: run `make test`, which starts a redis-server, or set REDIS_URL')
})

const load = (vars: Record<string, string>) => loadRateLimitConfig(new Env(vars))

describe('rate limit settings', () => {
  test('defaults', () => {
    assert.deepEqual(load({}), {
      rateLimit: DEFAULT_RATE_LIMIT,
      rateBurst: defaultBurst(DEFAULT_RATE_LIMIT),
      rateLimitFail: 'open',
      trustedProxies: [],
      redisUrl: 'redis://localhost:6379/0',
    })
  })

  test('the default burst is a tenth of the limit, at least 1', () => {
    for (const [perMinute, burst] of [[0, 1], [1, 1], [9, 1], [10, 1], [60, 6], [600, 60], [1_000_000, 100_000]]) {
      assert.equal(defaultBurst(perMinute ?? 0), burst)
    }
  })

  test('values', () => {
    assert.deepEqual(load({
      GATEWAY_RATE_LIMIT: '60',
      GATEWAY_RATE_BURST: '5',
      GATEWAY_RATE_LIMIT_FAIL: 'closed',
      GATEWAY_TRUSTED_PROXIES: '10.0.0.0/8, 192.0.2.7,2001:db8::/32',
      REDIS_URL: 'redis://:pw@redis:6380/1',
    }), {
      rateLimit: 60,
      rateBurst: 5,
      rateLimitFail: 'closed',
      trustedProxies: ['10.0.0.0/8', '192.0.2.7', '2001:db8::/32'],
      redisUrl: 'redis://:pw@redis:6380/1',
    })
    assert.equal(load({ GATEWAY_RATE_LIMIT: '60' }).rateBurst, 6, 'the burst follows the limit unless set')
    assert.equal(load({ GATEWAY_RATE_LIMIT: '0' }).rateLimit, 0, '0 turns the limit off')
  })

  for (const [name, value] of [
    ['GATEWAY_RATE_LIMIT', '-1'],
    ['GATEWAY_RATE_LIMIT', '1000001'],
    ['GATEWAY_RATE_LIMIT', 'lots'],
    ['GATEWAY_RATE_BURST', '0'],
    ['GATEWAY_RATE_BURST', '1.5'],
    ['GATEWAY_RATE_LIMIT_FAIL', 'Closed'],
    ['GATEWAY_RATE_LIMIT_FAIL', 'maybe'],
    ['GATEWAY_TRUSTED_PROXIES', '10.0.0.0/33'],
    ['GATEWAY_TRUSTED_PROXIES', '10.0.0.0/8,proxy.local'],
    ['REDIS_URL', 'http://redis:6379'],
  ] as const) {
    test(`refuses ${name}=${value}`, () => {
      assert.throws(() => load({ [name]: value }), (err: unknown) => err instanceof ConfigError && err.variable === name)
    })
  }
})

describe('the client address', () => {
  const proxies = trustedProxyList(['10.0.0.0/8', '2001:db8::/32'])
  for (const [name, peer, xff, want] of [
    ['no proxy', '192.0.2.1', undefined, '192.0.2.1'],
    ["an untrusted peer's X-Forwarded-For is ignored", '192.0.2.1', '198.51.100.7', '192.0.2.1'],
    ['a trusted proxy without X-Forwarded-For', '10.0.0.2', undefined, '10.0.0.2'],
    ['one trusted proxy', '10.0.0.2', '198.51.100.7', '198.51.100.7'],
    ['the rightmost untrusted, not what the client wrote', '10.0.0.2', '1.2.3.4, 198.51.100.7, 10.0.0.9', '198.51.100.7'],
    ['several fields read as one list', '10.0.0.2', ['1.2.3.4, 198.51.100.7', '10.0.0.9'], '198.51.100.7'],
    ['all trusted: the leftmost', '10.0.0.2', '10.1.1.1, 10.0.0.9', '10.1.1.1'],
    ['a malformed entry ends the walk', '10.0.0.2', '198.51.100.7, garbage, 10.0.0.9', '10.0.0.9'],
    ['a malformed last entry: the peer', '10.0.0.2', '198.51.100.7, unknown', '10.0.0.2'],
    ['IPv6', '2001:db8::1', '2001:DB8:0:0::5, 2001:db9::7', '2001:db9::7'],
    ['IPv4-mapped peer', '::ffff:192.0.2.1', undefined, '192.0.2.1'],
    ['IPv4-mapped hop', '10.0.0.2', '::ffff:198.51.100.7', '198.51.100.7'],
  ] as const) {
    test(name, () => {
      // Node.js joins repeated X-Forwarded-For fields with ", ".
      const headers = xff === undefined ? {} : { 'x-forwarded-for': typeof xff === 'string' ? xff : xff.join(', ') }
      assert.equal(clientIp(peer, headers, proxies), want)
    })
  }

  test('canonical forms', () => {
    assert.equal(canonicalAddress('2001:DB8:0:0:0:0:0:1'), '2001:db8::1')
    assert.equal(canonicalAddress('::ffff:7f00:1'), '127.0.0.1')
    assert.equal(canonicalAddress('fe80::1%eth0'), undefined)
    assert.equal(canonicalAddress('host'), undefined)
  })
})

function config(overrides: Partial<RateLimitConfig> = {}): RateLimitConfig {
  return { rateLimit: 60, rateBurst: 5, rateLimitFail: 'open', trustedProxies: [], redisUrl: REDIS_URL, ...overrides }
}

// A limiter with budgets of its own (prefix), deleted after the test.
function limiter(t: TestContext, overrides: Partial<RateLimitConfig> = {}, prefix = testPrefix(t)) {
  const registry = new client.Registry()
  const lines: string[] = []
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(line) })
  const rl = createRedisRateLimiter(config(overrides), { log, registry }, prefix)
  t.after(() => rl.close())
  return { rl, registry, lines, prefix }
}

// Connected, the script loaded, before the test's first request: until then
// a request waits for the connection within the limiter's 250 ms timeout,
// which a loaded CI machine can miss (the request then fails open, without
// headers).
async function warmed<L extends { rl: RedisRateLimiter; prefix: string }>(l: L): Promise<L> {
  for (let attempt = 1; ; attempt++) {
    try {
      await l.rl.spend(`${l.prefix}warm-up`)
      return l
    } catch (err) {
      if (attempt === 20) throw err
    }
  }
}

function testPrefix(t: TestContext): string {
  const prefix = `test-${randomBytes(6).toString('hex')}:`
  t.after(async () => {
    const redis = new Redis(REDIS_URL)
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length) await redis.del(...keys)
    redis.disconnect()
  })
  return prefix
}

const from = (caller: string, remoteAddress = '192.0.2.1') => ({ caller, remoteAddress, headers: {} })

// The RateLimit header of an allowed request, or the refusal's problem.
async function spend(rl: RedisRateLimiter, caller: string, remoteAddress?: string): Promise<string | HttpProblem> {
  try {
    return (await rl.limit(from(caller, remoteAddress))).RateLimit ?? ''
  } catch (err) {
    if (err instanceof HttpProblem) return err
    throw err
  }
}

describe('GCRA in Redis', { skip }, () => {
  test('a full budget lets a burst through at once; then a 429 until the next request is due', async (t) => {
    // The rates here leave a second or half of one between requests that must
    // fall in the same refill: a loaded machine can stall the test for tens of ms.
    const { rl, registry } = await warmed(limiter(t, { rateLimit: 60, rateBurst: 3 })) // one request a second
    for (const want of ['"default";r=2;t=1', '"default";r=1;t=2', '"default";r=0;t=3']) {
      assert.equal(await spend(rl, 'alice'), want)
    }
    const refused = await spend(rl, 'alice')
    assert.ok(refused instanceof HttpProblem)
    assert.equal(refused.status, 429)
    assert.equal(refused.detail, 'the rate limit of 60 requests per minute is used up; retry after the delay in Retry-After')
    assert.deepEqual(refused.headers, { 'RateLimit-Policy': '"default";q=60;w=60', RateLimit: '"default";r=0;t=1', 'Retry-After': '1' })
    assert.match(await registry.metrics(), /^gateway_rate_limited_total 1$/m)
  })

  test('a spent budget refills at the steady rate: after the retry-after, one more', async (t) => {
    const { rl, prefix } = await warmed(limiter(t, { rateLimit: 120, rateBurst: 1 })) // one request every 500 ms
    const key = `${prefix}caller:bob`
    assert.equal((await rl.spend(key))[0], 1)
    const [allowed, , , retryAfter] = await rl.spend(key)
    assert.equal(allowed, 0)
    assert.ok(retryAfter > 0 && retryAfter <= 500_000, `retry after ${retryAfter} us`)
    await sleep(retryAfter / 1000 + 5)
    assert.deepEqual((await rl.spend(key)).slice(0, 2), [1, 0])
    assert.equal((await rl.spend(key))[0], 0)
  })

  test('each caller has a budget; without a name, the client address', async (t) => {
    const { rl } = await warmed(limiter(t, { rateLimit: 60, rateBurst: 1 }))
    for (const caller of ['alice', 'bob', '']) {
      assert.equal(typeof (await spend(rl, caller)), 'string', `${caller}: first request`)
      assert.ok((await spend(rl, caller)) instanceof HttpProblem, `${caller}: second request`)
    }
    assert.equal(typeof (await spend(rl, '', '198.51.100.9')), 'string', 'another address')
  })

  test('two replicas on one Redis spend one budget', async (t) => {
    const prefix = testPrefix(t)
    const a = (await warmed(limiter(t, { rateLimit: 60, rateBurst: 4 }, prefix))).rl
    const b = (await warmed(limiter(t, { rateLimit: 60, rateBurst: 4 }, prefix))).rl
    let allowed = 0
    for (let i = 0; i < 10; i++) {
      if (typeof (await spend(i % 2 ? b : a, 'carol')) === 'string') allowed++
    }
    assert.equal(allowed, 4)
  })

  test('a budget expires once whole again; a refusal writes nothing', async (t) => {
    const { rl, prefix } = await warmed(limiter(t, { rateLimit: 60, rateBurst: 2 })) // one a second
    const redis = new Redis(REDIS_URL)
    t.after(() => redis.disconnect())
    await spend(rl, 'dave')
    const first = await redis.pttl(`${prefix}caller:dave`)
    assert.ok(first > 0 && first <= 1000, `PTTL ${first}`)
    await spend(rl, 'dave')
    await spend(rl, 'dave') // refused
    const second = await redis.pttl(`${prefix}caller:dave`)
    assert.ok(second > 1000 && second <= 2000, `PTTL ${second}`)
  })

  test('the script is loaded again when Redis forgot it', async (t) => {
    const { rl } = await warmed(limiter(t, { rateLimit: 60, rateBurst: 5 }))
    await spend(rl, 'erin')
    const redis = new Redis(REDIS_URL)
    t.after(() => redis.disconnect())
    await redis.script('FLUSH')
    assert.equal(await spend(rl, 'erin'), '"default";r=3;t=2')
  })

  test('a 429 through the app: the Go gateway\'s bytes and headers', async (t) => {
    const prefix = testPrefix(t)
    const rateLimiter = (await warmed(limiter(t, { rateLimit: 60, rateBurst: 1 }, prefix))).rl
    const { base } = await startApp(t, { rateLimiter })
    const ok = await predict(base, IRIS)
    assert.equal(ok.status, 200)
    assert.equal(ok.headers.get('ratelimit'), '"default";r=0;t=1')
    assert.equal(ok.headers.get('ratelimit-policy'), '"default";q=60;w=60')
    const res = await predict(base, IRIS, { 'x-request-id': 'r1' })
    assert.equal(res.status, 429)
    assert.equal(res.headers.get('retry-after'), '1')
    assert.equal(res.headers.get('ratelimit'), '"default";r=0;t=1')
    assert.equal(res.headers.get('ratelimit-policy'), '"default";q=60;w=60')
    assert.equal(res.body, '{"type":"https://iana.org/assignments/http-problem-types#quota-exceeded","title":"Too Many Requests","status":429,"detail":"the rate limit of 60 requests per minute is used up; retry after the delay in Retry-After","instance":"/v1/predict","request_id":"r1"}')
  })
})

describe('Redis down', () => {
  for (const mode of ['open', 'closed'] as const) {
    test(`fails ${mode}: counted, one warning, no wait per request`, async (t) => {
      const down = `redis://127.0.0.1:${await freePort()}/0`
      const { rl, registry, lines } = limiter(t, { rateLimitFail: mode, redisUrl: down }, 'test:')
      for (let i = 0; i < 3; i++) {
        const started = performance.now()
        if (mode === 'open') {
          assert.deepEqual(await rl.limit(from('frank')), {})
        } else {
          await assert.rejects(rl.limit(from('frank')), (err: unknown) => err instanceof HttpProblem && err.status === 503)
        }
        // Asking Redis may wait for its timeout (250 ms); 200 ms leaves room for a loaded machine.
        if (i > 0) assert.ok(performance.now() - started < 200, 'within the pause, Redis is not asked')
      }
      assert.match(await registry.metrics(), new RegExp(`^gateway_rate_limiter_failures_total\\{mode="${mode}"\\} 3$`, 'm'))
      assert.equal(lines.filter((l) => l.includes(`the rate limiter cannot reach Redis; failing ${mode}`)).length, 1)
    })
  }
})
