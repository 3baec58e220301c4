// The public API with a stub upstream: every error path, header and body
// shape of docs/ml-gateway-contract.md that does not depend on the transport.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import net from 'node:net'
import { describe, test } from 'node:test'
import { buildApp } from '../src/app.js'
import { createMetricsServer } from '../src/metrics-server.js'
import { UpstreamError } from '../src/upstream/errors.js'
import { HEX32, assertProblem, predict, stubUpstream, testApp, testConfig } from './helpers.js'

const IRIS = { instances: [[5.1, 3.5, 1.4, 0.2]] }
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const metricsText = (app) => app.metrics.registry.metrics()

describe('health', () => {
  test('GET /healthz answers ok', async (t) => {
    const app = await testApp(t)
    const res = await app.inject({ method: 'GET', url: '/healthz' })
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers['content-type'], 'application/json')
    assert.equal(res.body, '{"status":"ok"}')
    assert.match(res.headers['x-request-id'], HEX32)
  })

  test('HEAD /healthz answers 200', async (t) => {
    const app = await testApp(t)
    const res = await app.inject({ method: 'HEAD', url: '/healthz' })
    assert.equal(res.statusCode, 200)
  })

  test('GET /readyz answers ready when the upstream is', async (t) => {
    const app = await testApp(t)
    const res = await app.inject({ method: 'GET', url: '/readyz' })
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers['content-type'], 'application/json')
    assert.equal(res.body, '{"status":"ready"}')
  })

  test('GET /readyz answers 503 when the upstream is not ready', async (t) => {
    const upstream = stubUpstream()
    upstream.ready = async () => {
      throw new Error('down')
    }
    const app = await testApp(t, { upstream })
    const res = await app.inject({ method: 'GET', url: '/readyz' })
    assertProblem(res, 503, 'Service Unavailable', '/readyz')
    assert.equal(res.headers['retry-after'], '1')
  })

  test('/metrics off the public port: a 404 there', async (t) => {
    const app = await testApp(t)
    assertProblem(await app.inject({ method: 'GET', url: '/metrics' }), 404, 'Not Found', '/metrics')
  })

  test('the metrics listener serves GET /metrics and nothing else', async (t) => {
    const app = await testApp(t)
    const server = createMetricsServer(app.metrics.registry, app.log)
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    t.after(() => server.close())
    const base = `http://127.0.0.1:${server.address().port}`
    const res = await fetch(`${base}/metrics`)
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type'), /^text\/plain/)
    assert.match(await res.text(), /gateway_inflight_requests 0/)
    assert.equal((await fetch(`${base}/v1/predict`)).status, 404)
    assert.equal((await fetch(`${base}/metrics`, { method: 'POST' })).status, 405)
  })

  test('metrics count requests by route and status, and upstream outcomes', async (t) => {
    const app = await testApp(t)
    await app.inject({ method: 'GET', url: '/healthz' })
    await app.inject({ method: 'GET', url: '/nope' })
    await predict(app, IRIS)
    const res = { body: await metricsText(app) }
    assert.match(res.body, /gateway_http_requests_total\{method="GET",route="\/healthz",status="200"\} 1/)
    assert.match(res.body, /gateway_http_requests_total\{method="GET",route="unmatched",status="404"\} 1/)
    assert.match(res.body, /gateway_http_request_duration_seconds_count\{method="POST",route="\/v1\/predict",status="200"\} 1/)
    assert.match(res.body, /gateway_upstream_requests_total\{outcome="ok"\} 1/)
  })
})

describe('request ids and tracing', () => {
  test('a valid client X-Request-ID is kept and forwarded', async (t) => {
    const upstream = stubUpstream()
    const app = await testApp(t, { upstream })
    const id = 'Client-id_1.2:3'
    const res = await predict(app, IRIS, { 'x-request-id': id })
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers['x-request-id'], id)
    assert.equal(upstream.calls[0].requestId, id)
  })

  for (const [name, bad] of [
    ['too long', 'a'.repeat(129)],
    ['with a space', 'a b'],
    ['with a slash', 'a/b'],
    ['non-ASCII', 'é'],
  ]) {
    test(`an X-Request-ID ${name} is replaced by 32 hex`, async (t) => {
      const upstream = stubUpstream()
      const app = await testApp(t, { upstream })
      const res = await predict(app, IRIS, { 'x-request-id': encodeURI(bad) === bad ? bad : encodeURI(bad) })
      assert.match(res.headers['x-request-id'], HEX32)
      assert.equal(upstream.calls[0].requestId, res.headers['x-request-id'])
    })
  }

  test('128 characters are still a valid X-Request-ID', async (t) => {
    const app = await testApp(t)
    const id = 'x'.repeat(128)
    const res = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': id } })
    assert.equal(res.headers['x-request-id'], id)
  })

  test('errors carry the X-Request-ID too', async (t) => {
    const app = await testApp(t)
    const res = await app.inject({ method: 'GET', url: '/nope', headers: { 'x-request-id': 'req-1' } })
    const body = assertProblem(res, 404, 'Not Found', '/nope')
    assert.equal(body.request_id, 'req-1')
  })

  test('a valid traceparent is forwarded as is', async (t) => {
    const upstream = stubUpstream()
    const app = await testApp(t, { upstream })
    const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
    await predict(app, IRIS, { traceparent: tp })
    assert.equal(upstream.calls[0].traceparent, tp)
  })

  for (const bad of [
    undefined,
    'garbage',
    '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
    '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
    'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01',
  ]) {
    test(`traceparent ${bad} is replaced by a new one`, async (t) => {
      const upstream = stubUpstream()
      const app = await testApp(t, { upstream })
      await predict(app, IRIS, bad === undefined ? {} : { traceparent: bad })
      assert.match(upstream.calls[0].traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/)
      assert.notEqual(upstream.calls[0].traceparent, bad)
    })
  }

  test('a new trace is sampled only with GATEWAY_TRACE_SAMPLED', async (t) => {
    const upstream = stubUpstream()
    const app = await testApp(t, { upstream, config: { traceSampled: true } })
    await predict(app, IRIS)
    assert.match(upstream.calls[0].traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
  })
})

describe('POST /v1/predict', () => {
  test('relays a 200 byte for byte as application/json', async (t) => {
    const answer = Buffer.from('{"model_version":"m",  "predictions":[ ]}')
    const upstream = stubUpstream({ status: 200, body: answer, contentType: 'application/json' })
    const app = await testApp(t, { upstream })
    const res = await predict(app, IRIS)
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers['content-type'], 'application/json')
    assert.deepEqual(res.rawPayload, answer)
  })

  test('forwards the request body unchanged', async (t) => {
    const upstream = stubUpstream()
    const app = await testApp(t, { upstream })
    const raw = '{ "instances" : [[5.1, 3.5e0, 1, -0.2]] }'
    await predict(app, raw)
    assert.equal(upstream.calls[0].body.toString(), raw)
  })

  test('relays an upstream 4xx with its status and body', async (t) => {
    const problem = '{"type":"about:blank","title":"Unprocessable Content","status":422}'
    const upstream = stubUpstream({ status: 422, body: Buffer.from(problem), contentType: 'application/problem+json' })
    const app = await testApp(t, { upstream })
    const res = await predict(app, IRIS)
    assert.equal(res.statusCode, 422)
    assert.equal(res.headers['content-type'], 'application/problem+json')
    assert.equal(res.body, problem)
  })

  for (const [kind, status, title] of [
    ['timeout', 504, 'Gateway Timeout'],
    ['unavailable', 502, 'Bad Gateway'],
    ['server_error', 502, 'Bad Gateway'],
    ['bad_response', 502, 'Bad Gateway'],
  ]) {
    test(`an upstream ${kind} is a ${status}, its cause not shown`, async (t) => {
      const upstream = stubUpstream(() => {
        throw new UpstreamError(kind, 'Redis at 10.0.0.7:6379 said boom')
      })
      const app = await testApp(t, { upstream })
      const body = assertProblem(await predict(app, IRIS), status, title)
      assert.doesNotMatch(body.detail, /boom|Redis|10\.0/)
      const metrics = { body: await metricsText(app) }
      assert.match(metrics.body, new RegExp(`gateway_upstream_requests_total\\{outcome="${kind}"\\} 1`))
    })
  }

  test('an unexpected failure is a 500 problem', async (t) => {
    const upstream = stubUpstream(() => {
      throw new TypeError('bug')
    })
    const app = await testApp(t, { upstream })
    const body = assertProblem(await predict(app, IRIS), 500, 'Internal Server Error')
    assert.doesNotMatch(body.detail, /bug/)
  })

  for (const [name, payload] of [
    ['not JSON', 'instances'],
    ['truncated JSON', '{"instances": [[1, 2]'],
    ['empty', ''],
    ['JSON with a trailing comma', '{"instances": [[1]],}'],
    ['NaN', '{"instances": [[NaN]]}'],
  ]) {
    test(`a body ${name} is a 400`, async (t) => {
      const app = await testApp(t)
      assertProblem(await predict(app, payload), 400, 'Bad Request')
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
      const app = await testApp(t)
      const res = await app.inject({
        method: 'POST',
        url: '/v1/predict',
        headers: contentType ? { 'content-type': contentType } : {},
        payload: JSON.stringify(IRIS),
      })
      assertProblem(res, 415, 'Unsupported Media Type')
    })
  }

  test('a POST without body nor Content-Type is a 415', async (t) => {
    const app = await testApp(t)
    assertProblem(await app.inject({ method: 'POST', url: '/v1/predict' }), 415, 'Unsupported Media Type')
  })

  for (const contentType of ['application/json; charset=utf-8', 'Application/JSON', 'application/json;charset=UTF-8']) {
    test(`Content-Type ${contentType} is accepted`, async (t) => {
      const app = await testApp(t)
      const res = await predict(app, IRIS, { 'content-type': contentType })
      assert.equal(res.statusCode, 200)
    })
  }

  test('a body over GATEWAY_MAX_BODY_BYTES is a 413', async (t) => {
    const app = await testApp(t, { config: { maxBodyBytes: 64 } })
    const body = JSON.stringify({ instances: [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21]] })
    assert.ok(body.length > 64)
    assertProblem(await predict(app, body), 413, 'Content Too Large')
    const fits = JSON.stringify({ instances: [[1, 2, 3]] })
    assert.equal((await predict(app, fits)).statusCode, 200)
  })

  test('an invalid body is checked for size before JSON', async (t) => {
    const app = await testApp(t, { config: { maxBodyBytes: 8 } })
    assertProblem(await predict(app, 'not json at all'), 413, 'Content Too Large')
  })

  const rows = (n) => Array.from({ length: n }, () => [1, 2, 3, 4])
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
  ]) {
    test(`a body with ${name} is a 422`, async (t) => {
      const upstream = stubUpstream()
      const app = await testApp(t, { upstream })
      assertProblem(await predict(app, body), 422, 'Unprocessable Content')
      assert.equal(upstream.calls.length, 0)
    })
  }

  for (const [name, body] of [
    ['one row', IRIS],
    ['256 rows', { instances: rows(256) }],
    ['integers, negatives and exponents', { instances: [[1, -2, 3e-5, 0]] }],
    ['ragged rows (the model decides)', { instances: [[1], [1, 2]] }],
  ]) {
    test(`a body with ${name} is accepted`, async (t) => {
      const app = await testApp(t)
      assert.equal((await predict(app, body)).statusCode, 200)
    })
  }

  test('ML_MAX_BATCH sets the row limit', async (t) => {
    const small = await testApp(t, { config: { maxRows: 2 } })
    assertProblem(await predict(small, { instances: rows(3) }), 422, 'Unprocessable Content')
    const large = await testApp(t, { config: { maxRows: 1000 } })
    assert.equal((await predict(large, { instances: rows(1000) })).statusCode, 200)
  })

  test('load shedding: past GATEWAY_MAX_INFLIGHT a prediction gets a fast 503 with Retry-After', async (t) => {
    const releases = []
    const upstream = stubUpstream(async () => {
      await new Promise((resolve) => releases.push(resolve))
      return { status: 200, body: Buffer.from('{}'), contentType: 'application/json' }
    })
    const app = await testApp(t, { upstream, config: { maxInflight: 2 } })
    const first = [predict(app, IRIS), predict(app, IRIS)]
    while (releases.length < 2) await sleep(5)
    const shed = await predict(app, IRIS)
    assertProblem(shed, 503, 'Service Unavailable')
    assert.equal(shed.headers['retry-after'], '1')
    assert.equal(upstream.calls.length, 2)
    assert.match(await metricsText(app), /gateway_inflight_requests 2/)
    for (const release of releases) release()
    for (const res of await Promise.all(first)) assert.equal(res.statusCode, 200)
    const again = predict(app, IRIS)
    while (releases.length < 3) await sleep(5)
    releases[2]()
    assert.equal((await again).statusCode, 200)
  })
})

describe('routing', () => {
  test('an unknown path is a 404 whose instance is the path without the query', async (t) => {
    const app = await testApp(t)
    assertProblem(await app.inject({ method: 'GET', url: '/nope?x=1' }), 404, 'Not Found', '/nope')
  })

  test('a trailing slash is another path', async (t) => {
    const app = await testApp(t)
    assertProblem(await app.inject({ method: 'POST', url: '/v1/predict/' }), 404, 'Not Found', '/v1/predict/')
  })

  for (const [method, url, allow] of [
    ['GET', '/v1/predict', 'POST'],
    ['PUT', '/v1/predict', 'POST'],
    ['HEAD', '/v1/predict', 'POST'],
    ['OPTIONS', '/v1/predict', 'POST'],
    ['POST', '/healthz', 'GET, HEAD'],
    ['DELETE', '/readyz', 'GET, HEAD'],
  ]) {
    test(`${method} ${url} is a 405 with Allow: ${allow}`, async (t) => {
      const app = await testApp(t)
      const res = await app.inject({ method, url: `${url}?q=1` })
      assert.equal(res.headers.allow, allow)
      if (method === 'HEAD') {
        assert.equal(res.statusCode, 405)
        assert.equal(res.headers['content-type'], 'application/problem+json')
      } else {
        assertProblem(res, 405, 'Method Not Allowed', url)
      }
    })
  }

  test('a percent-encoded path is reported as sent', async (t) => {
    const app = await testApp(t)
    assertProblem(await app.inject({ method: 'GET', url: '/a%20b' }), 404, 'Not Found', '/a%20b')
  })
})

// A raw HTTP/1.1 exchange: writes `request` (string or chunks sent
// `gapMs` apart) and resolves to the whole answer once the server closes.
async function raw(app, request, { gapMs = 0 } = {}) {
  const socket = net.connect(app.server.address().port, '127.0.0.1')
  await once(socket, 'connect')
  const chunks = []
  socket.on('data', (chunk) => chunks.push(chunk))
  socket.on('error', () => {})
  const closed = once(socket, 'close')
  for (const part of [request].flat()) {
    if (socket.destroyed) break
    socket.write(part)
    if (gapMs) await sleep(gapMs)
  }
  await closed
  const text = Buffer.concat(chunks).toString('latin1')
  const [head, body] = text.split('\r\n\r\n')
  const [statusLine, ...lines] = head.split('\r\n')
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]))
  return { statusCode: Number(statusLine.split(' ')[1]), headers, body, json: () => JSON.parse(body) }
}

async function listening(t, config = {}) {
  const app = buildApp(testConfig(config), { logger: false, createUpstream: () => stubUpstream() })
  t.after(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  return app
}

// Before any request was parsed there is no path: the instance is empty.
describe("errors of Node's HTTP parser are problems with a request id too", () => {
  for (const [name, request, status, title, instance] of [
    ['headers over 64 KiB', `GET /v1/predict?x=1 HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`, 431, 'Request Header Fields Too Large', ''],
    ['a garbage request line', 'HELLO\r\n\r\n', 400, 'Bad Request', ''],
    ['Content-Length with Transfer-Encoding', 'POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'Bad Request', ''],
  ]) {
    test(`${name}: ${status}`, async (t) => {
      const app = await listening(t)
      const res = await raw(app, request)
      assertProblem(res, status, title, instance)
      assert.match(res.headers['x-request-id'], HEX32)
      assert.equal(res.headers.connection, 'close')
      assert.equal(Number(res.headers['content-length']), Buffer.byteLength(res.body))
    })
  }

  test('headers that take over 5 s: 408', async (t) => {
    const app = await listening(t)
    const started = performance.now()
    const res = await raw(app, ['GET /healthz HTTP/1.1\r\n', 'Host: x\r\n', 'X-Slow: 1\r\n', 'X-Slow: 2\r\n', 'X-Slow: 3\r\n', 'X-Slow: 4\r\n', 'X-Slow: 5\r\n', 'X-Slow: 6\r\n', 'X-Slow: 7\r\n'], { gapMs: 1000 })
    assertProblem(res, 408, 'Request Timeout', '')
    assert.ok(performance.now() - started < 7500, 'the 408 came late')
  })
})

describe('draining', () => {
  test('on SIGTERM readiness fails first, while predictions are still served', async (t) => {
    const app = await testApp(t)
    app.shuttingDown = true
    const ready = await app.inject({ method: 'GET', url: '/readyz' })
    assertProblem(ready, 503, 'Service Unavailable', '/readyz')
    assert.equal(ready.headers['retry-after'], '1')
    assert.equal((await predict(app, IRIS)).statusCode, 200)
  })

  test('while draining, predictions and readiness get 503 with Retry-After', async (t) => {
    const app = await testApp(t)
    app.draining = true
    const res = await predict(app, IRIS)
    assertProblem(res, 503, 'Service Unavailable')
    assert.equal(res.headers['retry-after'], '1')
    const ready = await app.inject({ method: 'GET', url: '/readyz' })
    assertProblem(ready, 503, 'Service Unavailable', '/readyz')
    assert.equal(ready.headers['retry-after'], '1')
    assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)
  })

  test('close() lets in-flight requests finish, then closes the upstream', async () => {
    const events = []
    let release
    const upstream = stubUpstream(async () => {
      await new Promise((resolve) => (release = resolve))
      events.push('predicted')
      return { status: 200, body: Buffer.from('{}'), contentType: 'application/json' }
    })
    upstream.close = async () => events.push('upstream closed')
    const app = buildApp(testConfig(), { logger: false, createUpstream: () => upstream })
    await app.listen({ host: '127.0.0.1', port: 0 })
    const url = `http://127.0.0.1:${app.server.address().port}/v1/predict`
    const inflight = fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(IRIS) })
    while (!release) await new Promise((resolve) => setTimeout(resolve, 5))
    const closed = app.close()
    await new Promise((resolve) => setTimeout(resolve, 50))
    assert.equal(app.draining, true)
    assert.deepEqual(events, [])
    release()
    const res = await inflight
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('connection'), 'close')
    await closed
    assert.deepEqual(events, ['predicted', 'upstream closed'])
  })
})

describe('processes', () => {
  test('server.js refuses a bad setting and names the variable', async () => {
    const child = spawn(process.execPath, ['src/server.js'], {
      env: { ...process.env, GATEWAY_PORT: 'eighty' },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (chunk) => (stderr += chunk))
    const [code] = await once(child, 'exit')
    assert.equal(code, 2)
    assert.match(stderr, /GATEWAY_PORT/)
  })

  test('server.js refuses a timeout past 2^31-1 ms (it would overflow to 1 ms)', async () => {
    const child = spawn(process.execPath, ['src/server.js'], {
      env: { ...process.env, GATEWAY_UPSTREAM_TIMEOUT_MS: '3000000000' },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (chunk) => (stderr += chunk))
    const [code] = await once(child, 'exit')
    assert.equal(code, 2)
    assert.match(stderr, /GATEWAY_UPSTREAM_TIMEOUT_MS=/)
  })

  test('healthcheck.js exits 0 when /healthz answers, 1 when nothing listens', async (t) => {
    const app = buildApp(testConfig(), { logger: false, createUpstream: () => stubUpstream() })
    t.after(() => app.close())
    await app.listen({ host: '127.0.0.1', port: 0 })
    const { port } = app.server.address()
    const run = async () => {
      const child = spawn(process.execPath, ['src/healthcheck.js'], {
        env: { ...process.env, GATEWAY_PORT: String(port) },
        stdio: 'ignore',
      })
      const [code] = await once(child, 'exit')
      return code
    }
    assert.equal(await run(), 0)
    await app.close()
    assert.equal(await run(), 1)
  })
})
