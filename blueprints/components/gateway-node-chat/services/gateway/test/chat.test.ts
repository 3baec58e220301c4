// The chat completions API of docs/ml-gateway-contract.md ("Chat
// completions"), against the app of src/app.ts (whichever framework) over
// real HTTP, with a fake transport (test/chat-fakes.ts): the body's checks,
// the edge checks and their order, relayed answers, and the event stream:
// its bytes, its pace, its timeouts, a slow or vanished client, shutdown,
// metrics.
import assert from 'node:assert/strict'
import http from 'node:http'
import type { ReadableStreamReadResult } from 'node:stream/web'
import { describe, test } from 'node:test'
import type { TestContext } from 'node:test'
import type { Authenticator } from '../src/auth/authenticator.ts'
import { type Config, ConfigError, loadConfig } from '../src/config.ts'
import { HttpProblem } from '../src/problem.ts'
import type { RateLimiter } from '../src/ratelimit/limiter.ts'
import { UpstreamError } from '../src/upstream/upstream.ts'
import { COMPLETION, type FakeBehaviour, type FakeChat, MODELS, chunk, fakeChat } from './chat-fakes.ts'
import { AUTH_HEADERS } from './auth-fixtures.ts'
import { AUTH_ENV, type Res, type Running, assertProblem, call, metricsText, sleep, startApp } from './helpers.ts'

const PATH = '/v1/chat/completions'
const MESSAGES = [{ role: 'user', content: 'Hi' }]
const BODY = { model: 'ngram', messages: MESSAGES }
const STREAM = { ...BODY, stream: true }

const ERRORS = {
  upstream_timeout: 'data: {"error":{"message":"the model sent no token in time","type":"server_error","code":"upstream_timeout"}}\n\n',
  upstream_error: 'data: {"error":{"message":"the model\'s stream broke off","type":"server_error","code":"upstream_error"}}\n\n',
  slow_reader: 'data: {"error":{"message":"the client read the stream too slowly","type":"server_error","code":"slow_reader"}}\n\n',
  shutdown: 'data: {"error":{"message":"the gateway is shutting down","type":"server_error","code":"shutdown"}}\n\n',
}

const event = (data: string): string => `data: ${data}\n\n`

interface ChatSetup {
  behaviour?: FakeBehaviour
  config?: Partial<Config>
  authenticator?: Authenticator
  rateLimiter?: RateLimiter
}

async function start(t: TestContext, { behaviour, config, authenticator, rateLimiter }: ChatSetup = {}): Promise<Running & { fake: FakeChat }> {
  const fake = fakeChat(behaviour)
  const running = await startApp(t, {
    chat: { createChatUpstream: fake.create },
    ...(config ? { config } : {}),
    ...(authenticator ? { authenticator } : {}),
    ...(rateLimiter ? { rateLimiter } : {}),
  })
  return { ...running, fake }
}

function chat(base: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Res> {
  return call(base, 'POST', PATH, {
    headers: { 'content-type': 'application/json', ...AUTH_HEADERS, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...(signal ? { signal } : {}),
  })
}

// A streaming request whose answer is read as it comes.
async function openStream(base: string, body: unknown = STREAM): Promise<{ res: Response; read: () => Promise<string | undefined> }> {
  const res = await fetch(`${base}${PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...AUTH_HEADERS },
    body: JSON.stringify(body),
  })
  assert.ok(res.body)
  const reader = res.body.getReader()
  const decoder = new TextDecoder()
  return {
    res,
    read: async () => {
      const { value, done } = (await reader.read()) as ReadableStreamReadResult<Uint8Array>
      return done ? undefined : decoder.decode(value)
    },
  }
}

// Waits until `check` holds (a metric, a close seen by the fake), for up
// to 10 s: a loaded CI machine can take seconds.
async function eventually(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const until = Date.now() + 10_000
  while (!(await check())) {
    if (Date.now() > until) assert.fail(`never: ${what}`)
    await sleep(10)
  }
}

describe('chat settings', () => {
  test('defaults', () => {
    const config = loadConfig({ ...AUTH_ENV })
    assert.equal(config.firstTokenTimeoutMs, 10000)
    assert.equal(config.tokenGapTimeoutMs, 10000)
    assert.equal(config.streamBufferEvents, 256)
  })

  test('values', () => {
    const config = loadConfig({
      ...AUTH_ENV,
      GATEWAY_FIRST_TOKEN_TIMEOUT_MS: '1',
      GATEWAY_TOKEN_GAP_TIMEOUT_MS: '2147483647',
      GATEWAY_STREAM_BUFFER_EVENTS: '65536',
    })
    assert.equal(config.firstTokenTimeoutMs, 1)
    assert.equal(config.tokenGapTimeoutMs, 2147483647)
    assert.equal(config.streamBufferEvents, 65536)
  })

  for (const [name, value] of [
    ['GATEWAY_FIRST_TOKEN_TIMEOUT_MS', '0'],
    ['GATEWAY_TOKEN_GAP_TIMEOUT_MS', '2147483648'],
    ['GATEWAY_TOKEN_GAP_TIMEOUT_MS', '1.5'],
    ['GATEWAY_STREAM_BUFFER_EVENTS', '0'],
    ['GATEWAY_STREAM_BUFFER_EVENTS', '65537'],
  ] as const) {
    test(`refuses ${name}=${value}`, () => {
      assert.throws(() => loadConfig({ ...AUTH_ENV, [name]: value }), (err) => err instanceof ConfigError && err.variable === name)
    })
  }
})

describe('the chat request body', () => {
  const message = (extra: Record<string, unknown>) => ({ ...BODY, messages: [{ role: 'user', content: 'Hi', ...extra }] })
  for (const [name, body] of [
    ['not an object', '[1]'],
    ['no model', { messages: MESSAGES }],
    ['an empty model', { ...BODY, model: '' }],
    ['a model that is not a string', { ...BODY, model: 1 }],
    ['no messages', { model: 'ngram' }],
    ['no message', { ...BODY, messages: [] }],
    ['messages that are not an array', { ...BODY, messages: { role: 'user', content: 'Hi' } }],
    ['a message that is not an object', { ...BODY, messages: ['Hi'] }],
    ['an unknown role', message({ role: 'robot' })],
    ['no role', { ...BODY, messages: [{ content: 'Hi' }] }],
    ['no content', { ...BODY, messages: [{ role: 'user' }] }],
    ['null content', message({ content: null })],
    ['empty content parts', message({ content: [] })],
    ['an image part', message({ content: [{ type: 'image_url', image_url: { url: 'x' } }] })],
    ['a text part without text', message({ content: [{ type: 'text' }] })],
    ['max_tokens 0', { ...BODY, max_tokens: 0 }],
    ['max_tokens 1.5', { ...BODY, max_tokens: 1.5 }],
    ['max_tokens 1.0', '{"model":"ngram","messages":[{"role":"user","content":"Hi"}],"max_tokens":1.0}'],
    ['max_tokens 1e2', '{"model":"ngram","messages":[{"role":"user","content":"Hi"}],"max_tokens":1e2}'],
    ['max_tokens "5"', { ...BODY, max_tokens: '5' }],
    ['max_completion_tokens -1', { ...BODY, max_completion_tokens: -1 }],
    ['temperature 2.5', { ...BODY, temperature: 2.5 }],
    ['temperature -0.1', { ...BODY, temperature: -0.1 }],
    ['temperature "hot"', { ...BODY, temperature: 'hot' }],
    ['a seed past 2^63-1', '{"model":"ngram","messages":[{"role":"user","content":"Hi"}],"seed":9223372036854775808}'],
    ['a seed below -2^63', '{"model":"ngram","messages":[{"role":"user","content":"Hi"}],"seed":-9223372036854775809}'],
    ['a fractional seed', { ...BODY, seed: 1.5 }],
    ['stream "yes"', { ...BODY, stream: 'yes' }],
    ['a last duplicate key that is bad', '{"model":"ngram","messages":[{"role":"user","content":"Hi"}],"stream":true,"stream":1}'],
  ] as const) {
    test(`${name}: 422`, async (t) => {
      const { base, fake } = await start(t)
      const res = await chat(base, body)
      assertProblem(res, 422, 'Unprocessable Content', PATH)
      assert.equal(fake.calls.length, 0)
    })
  }

  for (const [name, body] of [
    ['the least', BODY],
    ['every field', { ...BODY, max_completion_tokens: 5, max_tokens: 7, temperature: 0, seed: -3, stream: false }],
    ['nulls', { ...BODY, max_completion_tokens: null, max_tokens: null, temperature: null, seed: null, stream: null }],
    ['every role, text parts', { ...BODY, messages: ['system', 'developer', 'user', 'assistant', 'tool'].map((role) => ({ role, content: [{ type: 'text', text: 'x' }] })) }],
    ['temperature 2', { ...BODY, temperature: 2 }],
    ['the extreme seeds', '{"model":"m","messages":[{"role":"user","content":"Hi"}],"seed":-9223372036854775808,"max_tokens":9223372036854775807}'],
    ['fields it does not know', { ...BODY, top_p: 0.5, user: 'x', messages: [{ role: 'user', content: 'Hi', name: 'me' }] }],
    ['a duplicate key, the last good', '{"model":"ngram","messages":[{"role":"user","content":"Hi"}],"stream":1,"stream":false}'],
  ] as const) {
    test(`${name}: relayed`, async (t) => {
      const { base, fake } = await start(t)
      const sent = typeof body === 'string' ? body : JSON.stringify(body)
      const res = await chat(base, sent)
      assert.equal(res.status, 200, res.body)
      const [forwarded, ...more] = fake.calls
      assert.ok(forwarded)
      assert.equal(more.length, 0)
      assert.equal(forwarded.op, 'complete')
      assert.equal(forwarded.call.body.toString(), sent, 'forwarded unchanged')
    })
  }
})

describe('chat completions without streaming, and models', () => {
  test('a completion is relayed byte for byte, with the request id and traceparent', async (t) => {
    const { base, fake } = await start(t)
    const res = await chat(base, BODY, { 'x-request-id': 'req-7' })
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'application/json')
    assert.equal(res.body, COMPLETION)
    const [sent] = fake.calls
    assert.ok(sent)
    assert.equal(sent.call.requestId, 'req-7')
    assert.match(sent.call.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/)
    assert.equal((sent.call as { stream?: boolean }).stream, false)
  })

  test('GET /v1/models is relayed byte for byte, with no Content-Type asked', async (t) => {
    const { base, fake } = await start(t)
    const res = await call(base, 'GET', '/v1/models', { headers: AUTH_HEADERS })
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'application/json')
    assert.equal(res.body, MODELS)
    assert.equal(fake.calls[0]?.op, 'models')
  })

  test('HEAD /v1/models answers 200 without a body', async (t) => {
    const { base } = await start(t)
    const res = await call(base, 'HEAD', '/v1/models', { headers: AUTH_HEADERS })
    assert.equal(res.status, 200)
    assert.equal(res.body, '')
  })

  test('an upstream 422 problem keeps its status', async (t) => {
    const problem = '{"type":"about:blank","title":"Unprocessable Content","status":422,"detail":"max_tokens is over 256","instance":"/v1/chat/completions","request_id":"r"}'
    const { base } = await start(t, { behaviour: { complete: async () => ({ status: 422, body: Buffer.from(problem), contentType: 'application/problem+json' }) } })
    const res = await chat(base, BODY, { 'x-request-id': 'r' })
    assert.equal(res.status, 422)
    assert.equal(res.body, problem)
  })

  for (const [kind, status, title] of [['timeout', 504, 'Gateway Timeout'], ['unavailable', 502, 'Bad Gateway']] as const) {
    test(`an upstream ${kind} of models is a ${status}`, async (t) => {
      const { base } = await start(t, { behaviour: { models: () => Promise.reject(new UpstreamError(kind, 'x')) } })
      assertProblem(await call(base, 'GET', '/v1/models', { headers: AUTH_HEADERS }), status, title, '/v1/models')
    })
  }

  for (const [method, path, allow] of [
    ['GET', PATH, 'POST'],
    ['PUT', PATH, 'POST'],
    ['POST', '/v1/models', 'GET, HEAD'],
    ['DELETE', '/v1/models', 'GET, HEAD'],
  ] as const) {
    test(`${method} ${path} is a 405 with Allow: ${allow}`, async (t) => {
      const { base } = await start(t)
      const res = await call(base, method, path)
      assertProblem(res, 405, 'Method Not Allowed', path)
      assert.equal(res.headers.get('allow'), allow)
    })
  }
})

describe('the edge checks of chat completions, in predict\'s order', () => {
  const refuse: Authenticator = {
    authenticate() {
      throw new HttpProblem(401, 'no key', { headers: { 'WWW-Authenticate': 'Bearer' } })
    },
  }
  const spent: RateLimiter = {
    limit: () => Promise.reject(new HttpProblem(429, 'spent', { headers: { 'Retry-After': '3' } })),
    close: async () => {},
  }

  test('401 before 429 before 415', async (t) => {
    const { base } = await start(t, { authenticator: refuse, rateLimiter: spent })
    assertProblem(await chat(base, BODY, { 'content-type': 'text/plain' }), 401, 'Unauthorized', PATH)
    assertProblem(await call(base, 'GET', '/v1/models'), 401, 'Unauthorized', '/v1/models')
  })

  test('429 before 415', async (t) => {
    const { base } = await start(t, { rateLimiter: spent })
    const res = await chat(base, BODY, { 'content-type': 'text/plain' })
    assert.equal(res.status, 429)
  })

  test('415 for a body that is not JSON', async (t) => {
    const { base } = await start(t)
    assertProblem(await chat(base, BODY, { 'content-type': 'text/plain' }), 415, 'Unsupported Media Type', PATH)
  })

  test('413 before 400 before 422', async (t) => {
    const { base } = await start(t, { config: { maxBodyBytes: 64 } })
    assertProblem(await chat(base, `{${' '.repeat(100)}`), 413, 'Content Too Large', PATH)
    assertProblem(await chat(base, '{"model":'), 400, 'Bad Request', PATH)
    assertProblem(await chat(base, ''), 400, 'Bad Request', PATH)
    assertProblem(await chat(base, '{"model":""}'), 422, 'Unprocessable Content', PATH)
  })

  test('a stream holds a GATEWAY_MAX_INFLIGHT slot until it ends; over it, 503 at once', async (t) => {
    const { base, fake } = await start(t, { config: { maxInflight: 1 } })
    const { read } = await openStream(base)
    await read()
    const busy = await chat(base, BODY)
    assertProblem(busy, 503, 'Service Unavailable', PATH)
    assert.equal(busy.headers.get('retry-after'), '1')
    assert.equal((await call(base, 'GET', '/v1/models')).status, 503)
    fake.streams[0]?.end()
    while ((await read()) !== undefined);
    await eventually(async () => (await chat(base, BODY)).status === 200, 'the slot is free again')
  })

  test('while draining, 503 with Retry-After', async (t) => {
    const { app, base } = await start(t)
    app.drain.draining = true
    const res = await chat(base, STREAM)
    assertProblem(res, 503, 'Service Unavailable', PATH)
    assert.equal(res.headers.get('retry-after'), '1')
  })
})

describe('streaming chat completions', () => {
  test('the events, then data: [DONE], with the contract\'s headers', async (t) => {
    const rateLimiter: RateLimiter = { limit: async () => ({ RateLimit: '"default";r=5;t=1' }), close: async () => {} }
    const { base, fake } = await start(t, {
      rateLimiter,
      behaviour: {
        stream: async (stream) => {
          stream.push(chunk('Hello'))
          stream.push(chunk(' world'))
          stream.end()
          return stream
        },
      },
    })
    const res = await chat(base, STREAM, { 'x-request-id': 'req-s' })
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'text/event-stream')
    assert.equal(res.headers.get('cache-control'), 'no-cache')
    assert.equal(res.headers.get('x-accel-buffering'), 'no')
    assert.equal(res.headers.get('x-request-id'), 'req-s')
    assert.equal(res.headers.get('ratelimit'), '"default";r=5;t=1')
    assert.equal(res.headers.get('content-length'), null)
    assert.equal(res.body, event(chunk('Hello')) + event(chunk(' world')) + 'data: [DONE]\n\n')
    const [sent] = fake.calls
    assert.ok(sent)
    assert.equal(sent.op, 'stream')
    assert.equal((sent.call as { stream?: boolean }).stream, true)
    assert.equal(sent.call.requestId, 'req-s')
    assert.equal(sent.firstTokenTimeoutMs, 10000)
    assert.equal(fake.streams[0]?.closed, 1)
  })

  test('each event reaches the client as it comes', async (t) => {
    const { base, fake } = await start(t)
    const { read } = await openStream(base)
    assert.equal(await read(), event(chunk('Hello')))
    fake.streams[0]?.push(chunk(' again'))
    assert.equal(await read(), event(chunk(' again')))
    fake.streams[0]?.end()
    assert.equal(await read(), 'data: [DONE]\n\n')
    assert.equal(await read(), undefined)
  })

  test('a problem before the first event is relayed as predict\'s', async (t) => {
    const problem = '{"type":"about:blank","title":"Unprocessable Content","status":422,"detail":"too many","instance":"/v1/chat/completions","request_id":"r"}'
    const { base } = await start(t, { behaviour: { stream: async () => ({ status: 422, body: Buffer.from(problem), contentType: 'application/problem+json' }) } })
    const res = await chat(base, STREAM)
    assert.equal(res.status, 422)
    assert.equal(res.headers.get('content-type'), 'application/problem+json')
    assert.equal(res.body, problem)
  })

  for (const [kind, status, title] of [['timeout', 504, 'Gateway Timeout'], ['unavailable', 502, 'Bad Gateway'], ['server_error', 502, 'Bad Gateway']] as const) {
    test(`no first event (${kind}): a ${status} problem`, async (t) => {
      const { base, fake } = await start(t, {
        config: { firstTokenTimeoutMs: 1234 },
        behaviour: { stream: () => Promise.reject(new UpstreamError(kind, 'x')) },
      })
      const res = await chat(base, STREAM)
      const body = assertProblem(res, status, title, PATH)
      if (kind === 'timeout') assert.match(body.detail, /1234 ms/)
      assert.equal(fake.calls[0]?.firstTokenTimeoutMs, 1234)
    })
  }

  test('no event within GATEWAY_TOKEN_GAP_TIMEOUT_MS: the upstream_timeout event, no [DONE]', async (t) => {
    const { app, base, fake } = await start(t, { config: { tokenGapTimeoutMs: 50 } })
    const res = await chat(base, STREAM)
    assert.equal(res.body, event(chunk('Hello')) + ERRORS.upstream_timeout)
    assert.equal(fake.streams[0]?.closed, 1)
    assert.match(await metricsText(app), /gateway_chat_streams_cancelled_total\{reason="upstream_timeout"\} 1/)
  })

  test('a stream that breaks off: the upstream_error event', async (t) => {
    const { base } = await start(t, {
      behaviour: {
        stream: async (stream) => {
          stream.push(chunk('Hello'))
          setTimeout(() => stream.fail('upstream_error'), 10)
          return stream
        },
      },
    })
    assert.equal((await chat(base, STREAM)).body, event(chunk('Hello')) + ERRORS.upstream_error)
  })

  test('the model\'s own error event is relayed verbatim, and ends the stream', async (t) => {
    const failure = '{"error":{"message":"the model failed while generating","type":"server_error","code":"model_error"}}'
    const { base, fake } = await start(t, {
      behaviour: {
        stream: async (stream) => {
          stream.push(chunk('Hello'))
          stream.push(failure, true)
          stream.push(chunk('never'))
          return stream
        },
      },
    })
    assert.equal((await chat(base, STREAM)).body, event(chunk('Hello')) + event(failure))
    assert.equal(fake.streams[0]?.closed, 1)
  })

  test('a client that stops reading: the slow_reader event once it reads again, the generation cancelled', async (t) => {
    const { app, port, fake } = await start(t, { config: { streamBufferEvents: 4 } })
    const big = chunk('x'.repeat(64 * 1024))
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request({ port, host: '127.0.0.1', method: 'POST', path: PATH, headers: { 'content-type': 'application/json', ...AUTH_HEADERS } }, resolve)
      req.on('error', reject)
      req.end(JSON.stringify(STREAM))
    })
    res.pause()
    const stream = fake.streams[0]
    assert.ok(stream)
    // Feed it until the queue overflows (the socket's buffers fill first).
    for (let i = 0; i < 5000 && !stream.overflowed; i++) {
      stream.push(big)
      await new Promise((resolve) => setImmediate(resolve))
    }
    assert.ok(stream.overflowed, 'the queue overflowed')
    const chunks: Buffer[] = []
    res.on('data', (bytes: Buffer) => chunks.push(bytes))
    res.resume()
    await new Promise((resolve) => res.on('end', resolve))
    const body = Buffer.concat(chunks).toString()
    assert.ok(body.endsWith(event(big) + ERRORS.slow_reader), body.slice(-300))
    assert.equal(stream.closed, 1)
    assert.match(await metricsText(app), /gateway_chat_streams_cancelled_total\{reason="slow_reader"\} 1/)
  })

  test('a client that goes away: the stream is closed at once, logged as 499', async (t) => {
    const { app, base, fake } = await start(t)
    const abort = new AbortController()
    const res = await fetch(`${base}${PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...AUTH_HEADERS },
      body: JSON.stringify(STREAM),
      signal: abort.signal,
    })
    assert.ok(res.body)
    await res.body.getReader().read()
    abort.abort()
    await eventually(() => fake.streams[0]?.closed === 1, 'the stream was closed')
    await eventually(async () => /gateway_chat_streams_cancelled_total\{reason="client"\} 1/.test(await metricsText(app)), 'counted')
    await eventually(async () => /gateway_http_requests_total\{method="POST",route="\/v1\/chat\/completions",status="499"\} 1/.test(await metricsText(app)), '499')
    assert.match(await metricsText(app), /gateway_chat_streams_in_flight 0/)
  })

  test('shutdown: the drain waits for a stream, then cuts it with the shutdown event', async (t) => {
    const { app, base, fake } = await start(t)
    const { read } = await openStream(base)
    assert.equal(await read(), event(chunk('Hello')))
    let closed = false
    const closing = Promise.resolve(app.close()).then(() => {
      closed = true
    })
    fake.streams[0]?.push(chunk(' still'))
    assert.equal(await read(), event(chunk(' still')))
    await sleep(50)
    assert.equal(closed, false, 'the drain waits for the stream')
    app.drain.cut()
    let rest = ''
    for (let bytes = await read(); bytes !== undefined; bytes = await read()) rest += bytes
    assert.equal(rest, ERRORS.shutdown)
    await closing
    assert.equal(fake.streams[0]?.closed, 1)
    assert.match(await metricsText(app), /gateway_chat_streams_cancelled_total\{reason="shutdown"\} 1/)
  })

  test('metrics: time to first token, tokens per second, streams in flight, sequence errors', async (t) => {
    const { app, base, fake } = await start(t)
    assert.match(await metricsText(app), /gateway_chat_sequence_errors_total\{kind="gap"\} 0/)
    const { read } = await openStream(base)
    await read()
    assert.match(await metricsText(app), /gateway_chat_streams_in_flight 1/)
    const stream = fake.streams[0]
    await sleep(20)
    stream?.push(chunk(' a'))
    await read()
    await sleep(20)
    stream?.push(chunk(' b'))
    stream?.end()
    while ((await read()) !== undefined);
    fake.options?.onSequenceError('duplicate')
    const text = await metricsText(app)
    assert.match(text, /gateway_chat_streams_in_flight 0/)
    assert.match(text, /gateway_chat_time_to_first_token_seconds_count 1/)
    assert.match(text, /gateway_chat_tokens_per_second_count 1/)
    assert.match(text, /gateway_chat_sequence_errors_total\{kind="duplicate"\} 1/)
    assert.match(text, /gateway_upstream_requests_total\{outcome="ok"\} 1/)
    assert.match(text, /gateway_http_requests_total\{method="POST",route="\/v1\/chat\/completions",status="200"\} 1/)
    assert.equal(fake.options?.bufferEvents, 256)
  })
})
