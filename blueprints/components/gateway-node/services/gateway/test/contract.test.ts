// The public contract of docs/ml-gateway-contract.md that does not depend on
// the transport, against the app of src/app.ts (whichever framework) over
// real HTTP, with a stub upstream: every error path, header and body shape.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import net from 'node:net'
import { describe, test } from 'node:test'
import { pino } from 'pino'
import { buildApp } from '../src/app.ts'
import { createMetricsServer } from '../src/metrics-server.ts'
import { UpstreamError, type UpstreamAnswer, type UpstreamErrorKind } from '../src/upstream/upstream.ts'
import { AUTH_ENV, HEX32, IRIS, assertProblem, call, metricsText, predict, sleep, startApp, stubUpstream, testConfig } from './helpers.ts'

const answer = (body = '{}'): UpstreamAnswer => ({ status: 200, body: Buffer.from(body), contentType: 'application/json' })

describe('health', () => {
  test('GET /healthz answers ok', async (t) => {
    const { base } = await startApp(t)
    const res = await call(base, 'GET', '/healthz')
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'application/json')
    assert.equal(res.body, '{"status":"ok"}')
    assert.match(res.headers.get('x-request-id') ?? '', HEX32)
  })

  test('HEAD /healthz answers 200', async (t) => {
    const { base } = await startApp(t)
    assert.equal((await call(base, 'HEAD', '/healthz')).status, 200)
  })

  test('GET /readyz answers ready when the upstream is', async (t) => {
    const { base } = await startApp(t)
    const res = await call(base, 'GET', '/readyz')
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'application/json')
    assert.equal(res.body, '{"status":"ready"}')
  })

  test('GET /readyz answers 503 when the upstream is not ready', async (t) => {
    const upstream = stubUpstream()
    upstream.ready = () => Promise.reject(new Error('down'))
    const { base } = await startApp(t, { upstream })
    const res = await call(base, 'GET', '/readyz')
    assertProblem(res, 503, 'Service Unavailable', '/readyz')
    assert.equal(res.headers.get('retry-after'), '1')
  })

  test('/metrics off the public port: a 404 there', async (t) => {
    const { base } = await startApp(t)
    assertProblem(await call(base, 'GET', '/metrics'), 404, 'Not Found', '/metrics')
  })

  test('the metrics listener serves GET /metrics and nothing else', async (t) => {
    const { app } = await startApp(t)
    const server = createMetricsServer(app.metrics.registry, app.log)
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    t.after(() => server.close())
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const res = await call(base, 'GET', '/metrics')
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/)
    assert.match(res.body, /gateway_inflight_requests 0/)
    assert.equal((await call(base, 'GET', '/v1/predict')).status, 404)
    assert.equal((await call(base, 'POST', '/metrics')).status, 405)
  })

  test('metrics count requests by route and status, and upstream outcomes', async (t) => {
    const { app, base } = await startApp(t)
    await call(base, 'GET', '/healthz')
    await call(base, 'GET', '/nope')
    await predict(base, IRIS)
    const text = await metricsText(app)
    assert.match(text, /gateway_http_requests_total\{method="GET",route="\/healthz",status="200"\} 1/)
    assert.match(text, /gateway_http_requests_total\{method="GET",route="unmatched",status="404"\} 1/)
    assert.match(text, /gateway_http_request_duration_seconds_count\{method="POST",route="\/v1\/predict",status="200"\} 1/)
    assert.match(text, /gateway_upstream_requests_total\{outcome="ok"\} 1/)
  })
})

describe('request ids and tracing', () => {
  test('a valid client X-Request-ID is kept and forwarded', async (t) => {
    const upstream = stubUpstream()
    const { base } = await startApp(t, { upstream })
    const id = 'Client-id_1.2:3'
    const res = await predict(base, IRIS, { 'x-request-id': id })
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('x-request-id'), id)
    assert.equal(upstream.calls[0]?.requestId, id)
  })

  for (const [name, bad] of [
    ['too long', 'a'.repeat(129)],
    ['with a space', 'a b'],
    ['with a slash', 'a/b'],
    ['non-ASCII', encodeURI('é')],
  ] as const) {
    test(`an X-Request-ID ${name} is replaced by 32 hex`, async (t) => {
      const upstream = stubUpstream()
      const { base } = await startApp(t, { upstream })
      const res = await predict(base, IRIS, { 'x-request-id': bad })
      const id = res.headers.get('x-request-id') ?? ''
      assert.match(id, HEX32)
      assert.equal(upstream.calls[0]?.requestId, id)
    })
  }

  test('128 characters are still a valid X-Request-ID', async (t) => {
    const { base } = await startApp(t)
    const id = 'x'.repeat(128)
    const res = await call(base, 'GET', '/healthz', { headers: { 'x-request-id': id } })
    assert.equal(res.headers.get('x-request-id'), id)
  })

  test('errors carry the X-Request-ID too', async (t) => {
    const { base } = await startApp(t)
    const res = await call(base, 'GET', '/nope', { headers: { 'x-request-id': 'req-1' } })
    assert.equal(assertProblem(res, 404, 'Not Found', '/nope').request_id, 'req-1')
  })

  test('a valid traceparent is forwarded as is', async (t) => {
    const upstream = stubUpstream()
    const { base } = await startApp(t, { upstream })
    const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
    await predict(base, IRIS, { traceparent: tp })
    assert.equal(upstream.calls[0]?.traceparent, tp)
  })

  for (const bad of [
    undefined,
    'garbage',
    '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
    '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
    'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01',
  ]) {
    test(`traceparent ${bad ?? 'missing'} is replaced by a new one`, async (t) => {
      const upstream = stubUpstream()
      const { base } = await startApp(t, { upstream })
      await predict(base, IRIS, bad === undefined ? {} : { traceparent: bad })
      const sent = upstream.calls[0]?.traceparent ?? ''
      assert.match(sent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/)
      assert.notEqual(sent, bad)
    })
  }

  test('a new trace is sampled only with GATEWAY_TRACE_SAMPLED', async (t) => {
    const upstream = stubUpstream()
    const { base } = await startApp(t, { upstream, config: { traceSampled: true } })
    await predict(base, IRIS)
    assert.match(upstream.calls[0]?.traceparent ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
  })
})

describe('POST /v1/predict', () => {
  test('relays a 200 byte for byte as application/json', async (t) => {
    const body = '{"model_version":"m",  "predictions":[ ]}'
    const { base } = await startApp(t, { upstream: stubUpstream(answer(body)) })
    const res = await predict(base, IRIS)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'application/json')
    assert.equal(res.body, body)
  })

  test('forwards the request body unchanged', async (t) => {
    const upstream = stubUpstream()
    const { base } = await startApp(t, { upstream })
    const raw = '{ "instances" : [[5.1, 3.5e0, 1, -0.2]] }'
    await predict(base, raw)
    assert.equal(upstream.calls[0]?.body.toString(), raw)
  })

  test('relays an upstream 4xx with its status and body', async (t) => {
    const problem = '{"type":"about:blank","title":"Unprocessable Content","status":422}'
    const upstream = stubUpstream({ status: 422, body: Buffer.from(problem), contentType: 'application/problem+json' })
    const { base } = await startApp(t, { upstream })
    const res = await predict(base, IRIS)
    assert.equal(res.status, 422)
    assert.equal(res.headers.get('content-type'), 'application/problem+json')
    assert.equal(res.body, problem)
  })

  for (const [kind, status, title] of [
    ['timeout', 504, 'Gateway Timeout'],
    ['unavailable', 502, 'Bad Gateway'],
    ['server_error', 502, 'Bad Gateway'],
    ['bad_response', 502, 'Bad Gateway'],
  ] as [UpstreamErrorKind, number, string][]) {
    test(`an upstream ${kind} is a ${status}, its cause not shown`, async (t) => {
      const upstream = stubUpstream(() => {
        throw new UpstreamError(kind, 'Redis at 10.0.0.7:6379 said boom')
      })
      const { app, base } = await startApp(t, { upstream })
      const body = assertProblem(await predict(base, IRIS), status, title)
      assert.doesNotMatch(body.detail, /boom|Redis|10\.0/)
      assert.match(await metricsText(app), new RegExp(`gateway_upstream_requests_total\\{outcome="${kind}"\\} 1`))
    })
  }

  test('an unexpected failure is a 500 problem', async (t) => {
    const upstream = stubUpstream(() => {
      throw new TypeError('bug')
    })
    const { base } = await startApp(t, { upstream })
    const body = assertProblem(await predict(base, IRIS), 500, 'Internal Server Error')
    assert.doesNotMatch(body.detail, /bug/)
  })

  for (const [name, payload] of [
    ['not JSON', 'instances'],
    ['truncated JSON', '{"instances": [[1, 2]'],
    ['empty', ''],
    ['JSON with a trailing comma', '{"instances": [[1]],}'],
    ['NaN', '{"instances": [[NaN]]}'],
    ['trailing garbage', '{"instances": [[1]]} x'],
  ]) {
    test(`a body ${name} is a 400`, async (t) => {
      const { base } = await startApp(t)
      assertProblem(await predict(base, payload), 400, 'Bad Request')
    })
  }

  for (const [name, contentType] of [
    ['missing', undefined],
    ['text/plain', 'text/plain'],
    ['form', 'application/x-www-form-urlencoded'],
    ['application/jsonx', 'application/jsonx'],
    ['application/problem+json', 'application/problem+json'],
  ]) {
    test(`Content-Type ${name} is a 415`, async (t) => {
      const { base } = await startApp(t)
      const res = await call(base, 'POST', '/v1/predict', {
        headers: contentType === undefined ? {} : { 'content-type': contentType },
        body: JSON.stringify(IRIS),
      })
      assertProblem(res, 415, 'Unsupported Media Type')
    })
  }

  test('a POST without body nor Content-Type is a 415', async (t) => {
    const { base } = await startApp(t)
    assertProblem(await call(base, 'POST', '/v1/predict'), 415, 'Unsupported Media Type')
  })

  test('a POST with Content-Type but no body is a 400', async (t) => {
    const { base } = await startApp(t)
    assertProblem(await call(base, 'POST', '/v1/predict', { headers: { 'content-type': 'application/json' } }), 400, 'Bad Request')
  })

  for (const contentType of ['application/json; charset=utf-8', 'Application/JSON', 'application/json;charset=UTF-8']) {
    test(`Content-Type ${contentType} is accepted`, async (t) => {
      const { base } = await startApp(t)
      assert.equal((await predict(base, IRIS, { 'content-type': contentType })).status, 200)
    })
  }

  test('a body over GATEWAY_MAX_BODY_BYTES is a 413', async (t) => {
    const { base } = await startApp(t, { config: { maxBodyBytes: 64 } })
    const body = JSON.stringify({ instances: [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21]] })
    assert.ok(body.length > 64)
    assertProblem(await predict(base, body), 413, 'Content Too Large')
    assert.equal((await predict(base, JSON.stringify({ instances: [[1, 2, 3]] }))).status, 200)
  })

  test('an invalid body is checked for size before JSON', async (t) => {
    const { base } = await startApp(t, { config: { maxBodyBytes: 8 } })
    assertProblem(await predict(base, 'not json at all'), 413, 'Content Too Large')
  })

  const rows = (n: number) => Array.from({ length: n }, () => [1, 2, 3, 4])
  for (const [name, body] of [
    ['an array', [[1, 2]]],
    ['null', null],
    ['a number', 1],
    ['a string', '"x"'],
    ['an empty object', {}],
    ['no rows', { instances: [] }],
    ['257 rows', { instances: rows(257) }],
    ['an empty row', { instances: [[]] }],
    ['a string feature', { instances: [['1.0']] }],
    ['a boolean feature', { instances: [[true]] }],
    ['a null feature', { instances: [[null]] }],
    ['a nested feature', { instances: [[[1]]] }],
    ['rows that are numbers', { instances: [1, 2] }],
    ['instances as an object', { instances: { a: [1] } }],
    ['instances as null', { instances: null }],
    ['an extra key', { instances: [[1]], extra: 1 }],
    ['a misspelled key', { Instances: [[1]] }],
    ['a number too large for a double', '{"instances": [[1e999]]}'],
  ] as [string, unknown][]) {
    test(`a body with ${name} is a 422`, async (t) => {
      const upstream = stubUpstream()
      const { base } = await startApp(t, { upstream })
      assertProblem(await predict(base, body), 422, 'Unprocessable Content')
      assert.equal(upstream.calls.length, 0)
    })
  }

  test('the 422 detail names the first schema error', async (t) => {
    const { base } = await startApp(t)
    const body = assertProblem(await predict(base, { instances: [] }), 422, 'Unprocessable Content')
    assert.equal(body.detail, 'body/instances must NOT have fewer than 1 items')
    const extra = assertProblem(await predict(base, { instances: [[1]], extra: 1 }), 422, 'Unprocessable Content')
    assert.equal(extra.detail, 'body must NOT have additional properties (extra)')
  })

  for (const [name, body] of [
    ['one row', IRIS],
    ['256 rows', { instances: rows(256) }],
    ['integers, negatives and exponents', { instances: [[1, -2, 3e-5, 0]] }],
    ['ragged rows (the model decides)', { instances: [[1], [1, 2]] }],
    ['instances twice (the last one counts)', '{"instances": "x", "instances": [[1]]}'],
  ] as [string, unknown][]) {
    test(`a body with ${name} is accepted`, async (t) => {
      const { base } = await startApp(t)
      assert.equal((await predict(base, body)).status, 200)
    })
  }

  test('ML_MAX_BATCH sets the row limit', async (t) => {
    const small = await startApp(t, { config: { maxRows: 2 } })
    assertProblem(await predict(small.base, { instances: rows(3) }), 422, 'Unprocessable Content')
    const large = await startApp(t, { config: { maxRows: 1000 } })
    assert.equal((await predict(large.base, { instances: rows(1000) })).status, 200)
  })

  test('load shedding: past GATEWAY_MAX_INFLIGHT a prediction gets a fast 503 with Retry-After', async (t) => {
    const releases: (() => void)[] = []
    const upstream = stubUpstream(async () => {
      await new Promise<void>((resolve) => releases.push(resolve))
      return answer()
    })
    const { app, base } = await startApp(t, { upstream, config: { maxInflight: 2 } })
    const first = [predict(base, IRIS), predict(base, IRIS)]
    while (releases.length < 2) await sleep(5)
    const shed = await predict(base, IRIS)
    assertProblem(shed, 503, 'Service Unavailable')
    assert.equal(shed.headers.get('retry-after'), '1')
    assert.equal(upstream.calls.length, 2)
    assert.match(await metricsText(app), /gateway_inflight_requests 2/)
    for (const release of releases) release()
    for (const res of await Promise.all(first)) assert.equal(res.status, 200)
    const again = predict(base, IRIS)
    while (releases.length < 3) await sleep(5)
    releases[2]?.()
    assert.equal((await again).status, 200)
  })

  test('a client that goes away cancels the upstream call, and frees its slot', async (t) => {
    let canceled: (() => void) | undefined
    const wasCanceled = new Promise<void>((resolve) => (canceled = resolve))
    const upstream = stubUpstream(({ signal }) => new Promise((_, reject) => {
      signal?.addEventListener('abort', () => {
        canceled?.()
        reject(new UpstreamError('canceled', 'the client went away'))
      })
    }))
    const { app, base } = await startApp(t, { upstream, config: { maxInflight: 1 } })
    await assert.rejects(call(base, 'POST', '/v1/predict', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(IRIS),
      signal: AbortSignal.timeout(200),
    }))
    await wasCanceled
    for (let i = 0; i < 50 && !/outcome="canceled"\} 1/.test(await metricsText(app)); i++) await sleep(20)
    assert.match(await metricsText(app), /gateway_upstream_requests_total\{outcome="canceled"\} 1/)
    assert.match(await metricsText(app), /gateway_inflight_requests 0/)
  })
})

describe('routing', () => {
  test('an unknown path is a 404 whose instance is the path without the query', async (t) => {
    const { base } = await startApp(t)
    assertProblem(await call(base, 'GET', '/nope?x=1'), 404, 'Not Found', '/nope')
  })

  for (const path of ['/v1/predict/', '/V1/predict', '//v1/predict', '/v1/../v1/predict']) {
    test(`${path} is another path: 404, never a redirect`, async (t) => {
      const { port } = await startApp(t)
      const res = await raw(port, `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`)
      assertProblem(res, 404, 'Not Found', path)
    })
  }

  for (const [method, url, allow] of [
    ['GET', '/v1/predict', 'POST'],
    ['PUT', '/v1/predict', 'POST'],
    ['HEAD', '/v1/predict', 'POST'],
    ['OPTIONS', '/v1/predict', 'POST'],
    ['POST', '/healthz', 'GET, HEAD'],
    ['DELETE', '/readyz', 'GET, HEAD'],
  ] as const) {
    test(`${method} ${url} is a 405 with Allow: ${allow}`, async (t) => {
      const { base } = await startApp(t)
      const res = await call(base, method, `${url}?q=1`)
      assert.equal(res.headers.get('allow'), allow)
      if (method === 'HEAD') {
        assert.equal(res.status, 405)
        assert.equal(res.headers.get('content-type'), 'application/problem+json')
      } else {
        assertProblem(res, 405, 'Method Not Allowed', url)
      }
    })
  }

  test('a percent-encoded path is reported as sent', async (t) => {
    const { base } = await startApp(t)
    assertProblem(await call(base, 'GET', '/a%20b'), 404, 'Not Found', '/a%20b')
  })
})

// A raw HTTP/1.1 exchange: writes `request` (string or chunks sent `gapMs`
// apart) and resolves to the whole answer once the server closes.
async function raw(port: number, request: string | string[], { gapMs = 0 } = {}) {
  const socket = net.connect(port, '127.0.0.1')
  await once(socket, 'connect')
  const chunks: Buffer[] = []
  socket.on('data', (chunk: Buffer) => chunks.push(chunk))
  socket.on('error', () => {})
  const closed = once(socket, 'close')
  for (const part of [request].flat()) {
    if (socket.destroyed) break
    socket.write(part)
    if (gapMs) await sleep(gapMs)
  }
  await closed
  const text = Buffer.concat(chunks).toString('latin1')
  const [head = '', body = ''] = text.split('\r\n\r\n')
  const [statusLine = '', ...lines] = head.split('\r\n')
  const headers = new Headers(lines.map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]))
  return { status: Number(statusLine.split(' ')[1]), headers, body }
}

// Before any request was parsed there is no path: the instance is empty.
describe("errors of Node's HTTP parser are problems with a request id too", () => {
  for (const [name, request, status, title] of [
    ['headers over 64 KiB', `GET /v1/predict?x=1 HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`, 431, 'Request Header Fields Too Large'],
    ['a garbage request line', 'HELLO\r\n\r\n', 400, 'Bad Request'],
    ['Content-Length with Transfer-Encoding', 'POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'Bad Request'],
  ] as const) {
    test(`${name}: ${status}`, async (t) => {
      const { port } = await startApp(t)
      const res = await raw(port, request)
      assertProblem(res, status, title, '')
      assert.match(res.headers.get('x-request-id') ?? '', HEX32)
      assert.equal(res.headers.get('connection'), 'close')
      assert.equal(Number(res.headers.get('content-length')), Buffer.byteLength(res.body))
    })
  }

  test('headers that take over 5 s: 408', async (t) => {
    const { port } = await startApp(t)
    const started = performance.now()
    const lines = ['GET /healthz HTTP/1.1\r\n', 'Host: x\r\n', ...Array.from({ length: 7 }, (_, i) => `X-Slow: ${i}\r\n`)]
    const res = await raw(port, lines, { gapMs: 1000 })
    assertProblem(res, 408, 'Request Timeout', '')
    assert.ok(performance.now() - started < 7500, 'the 408 came late')
  })
})

describe('draining', () => {
  test('on SIGTERM readiness fails first, while predictions are still served', async (t) => {
    const { app, base } = await startApp(t)
    app.drain.shuttingDown = true
    const ready = await call(base, 'GET', '/readyz')
    assertProblem(ready, 503, 'Service Unavailable', '/readyz')
    assert.equal(ready.headers.get('retry-after'), '1')
    assert.equal((await predict(base, IRIS)).status, 200)
  })

  test('while draining, predictions and readiness get 503 with Retry-After', async (t) => {
    const { app, base } = await startApp(t)
    app.drain.draining = true
    const res = await predict(base, IRIS)
    assertProblem(res, 503, 'Service Unavailable')
    assert.equal(res.headers.get('retry-after'), '1')
    const ready = await call(base, 'GET', '/readyz')
    assertProblem(ready, 503, 'Service Unavailable', '/readyz')
    assert.equal(ready.headers.get('retry-after'), '1')
    assert.equal((await call(base, 'GET', '/healthz')).status, 200)
  })

  test('close() lets in-flight requests finish, then closes the upstream', async (t) => {
    const events: string[] = []
    let release: (() => void) | undefined
    const upstream = stubUpstream(async () => {
      await new Promise<void>((resolve) => (release = resolve))
      events.push('predicted')
      return answer()
    })
    upstream.close = async () => {
      events.push('upstream closed')
    }
    const { app, base } = await startApp(t, { upstream })
    const inflight = predict(base, IRIS)
    while (!release) await sleep(5)
    const closed = app.close()
    await sleep(50)
    assert.equal(app.drain.draining, true)
    assert.deepEqual(events, [])
    release()
    const res = await inflight
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('connection'), 'close')
    await closed
    assert.deepEqual(events, ['predicted', 'upstream closed'])
  })

  test('close() ends idle keep-alive connections at once', async (t) => {
    const { app, base } = await startApp(t)
    assert.equal((await call(base, 'GET', '/healthz')).status, 200) // leaves a pooled connection open
    const started = performance.now()
    await app.close()
    assert.ok(performance.now() - started < 1000, 'close() waited for an idle connection')
  })
})

describe('processes', () => {
  async function exitOf(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
    const child = spawn(process.execPath, ['src/server.ts'], { env: { ...process.env, ...AUTH_ENV, ...env }, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const [code] = (await once(child, 'exit')) as [number | null]
    return { code, stderr }
  }

  test('server.ts refuses a bad setting and names the variable', async () => {
    const { code, stderr } = await exitOf({ GATEWAY_PORT: 'eighty' })
    assert.equal(code, 2)
    assert.match(stderr, /GATEWAY_PORT/)
  })

  test('server.ts refuses a timeout past 2^31-1 ms (it would overflow to 1 ms)', async () => {
    const { code, stderr } = await exitOf({ GATEWAY_UPSTREAM_TIMEOUT_MS: '3000000000' })
    assert.equal(code, 2)
    assert.match(stderr, /GATEWAY_UPSTREAM_TIMEOUT_MS=/)
  })

  test('server.ts prints no warning of its own (type stripping included)', async () => {
    const { code, stderr } = await exitOf({ GATEWAY_PORT: 'eighty' })
    assert.equal(code, 2)
    assert.doesNotMatch(stderr, /Warning/)
  })

  test('healthcheck.ts exits 0 when /healthz answers, 1 when nothing listens', async () => {
    const app = buildApp(testConfig(), { logger: pino({ level: 'silent' }), createUpstream: () => stubUpstream() })
    await app.listen({ host: '127.0.0.1', port: 0 })
    const { port } = app.server.address() as AddressInfo
    const run = async () => {
      const child = spawn(process.execPath, ['src/healthcheck.ts'], { env: { ...process.env, ...AUTH_ENV, GATEWAY_PORT: String(port) }, stdio: 'ignore' })
      const [code] = (await once(child, 'exit')) as [number | null]
      return code
    }
    assert.equal(await run(), 0)
    await app.close()
    assert.equal(await run(), 1)
  })
})
