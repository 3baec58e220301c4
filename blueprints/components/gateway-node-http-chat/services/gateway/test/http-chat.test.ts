// The HTTP transport's chat side against a fake ML service on a random port.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, test, type TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { type ChatCall, type ChatStream, type ChatUpstream, StreamError } from '../src/upstream/chat.ts'
import { createChatUpstream } from '../src/upstream/chat-index.ts'
import { createHttpUpstream } from '../src/upstream/http.ts'
import { UpstreamError, type UpstreamAnswer } from '../src/upstream/upstream.ts'

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
const BODY = '{"model":"ngram","messages":[{"role":"user","content":"hi"}],"stream":true}'
const CHUNK = (n: number) => `{"id":"chatcmpl-r1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":" t${n}"}}]}`

interface Seen {
  method: string | undefined
  url: string | undefined
  headers: http.IncomingHttpHeaders
  body: string
  // Resolves when the gateway closed the request before the answer ended.
  aborted: Promise<void>
}

type Handler = (res: http.ServerResponse, seen: Seen) => unknown

// A fake ML service: `handler(res, seen)` answers.
async function fakeMl(t: TestContext, handler: Handler) {
  const seen: Seen[] = []
  const server = http.createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = []
      for await (const chunk of req) chunks.push(chunk as Buffer)
      const aborted = new Promise<void>((resolve) => {
        res.on('close', () => {
          if (!res.writableFinished) resolve()
        })
      })
      const one = { method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString(), aborted }
      seen.push(one)
      try {
        await handler(res, one)
      } catch {
        res.destroy()
      }
    })()
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => {
    server.closeAllConnections()
    server.close()
  })
  return { seen, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

function chatUpstream(t: TestContext, mlUrl: string, bufferEvents = 16, upstreamTimeoutMs = 2000): ChatUpstream {
  const upstream = createHttpUpstream({ mlUrl, upstreamTimeoutMs })
  t.after(() => upstream.close())
  return createChatUpstream(upstream, { bufferEvents, onSequenceError: () => assert.fail('no sequence over HTTP') })
}

function chatCall(signal?: AbortSignal): ChatCall {
  return { body: Buffer.from(BODY), requestId: 'r1', traceparent: TRACEPARENT, stream: true, ...(signal && { signal }) }
}

function eventStream(res: http.ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' })
  res.flushHeaders()
}

// Opens a stream the fake must answer with events.
async function openStream(upstream: ChatUpstream, timeoutMs = 2000, signal?: AbortSignal): Promise<ChatStream> {
  const stream = await upstream.stream(chatCall(signal), timeoutMs)
  assert.ok('next' in stream, 'a stream, not an answer')
  return stream
}

// Every event until the end; the stream's error, if any, as the last item.
async function drain(stream: ChatStream, gapMs = 2000): Promise<(string | StreamError)[]> {
  const seen: (string | StreamError)[] = []
  try {
    for (let event = await stream.next(gapMs); event; event = await stream.next(gapMs)) {
      seen.push(event.error ? `error:${event.data.toString()}` : event.data.toString())
    }
  } catch (err) {
    assert.ok(err instanceof StreamError, String(err))
    seen.push(err)
  } finally {
    stream.close()
  }
  return seen
}

function kind(item: string | StreamError | undefined): string | undefined {
  return item instanceof StreamError ? item.kind : item
}

async function rejectsWith(promise: Promise<unknown>, kind: UpstreamError['kind']): Promise<void> {
  await assert.rejects(promise, (err: unknown) => err instanceof UpstreamError && err.kind === kind)
}

describe('HTTP chat upstream', () => {
  test('POSTs the completion with its ids and relays each event verbatim until [DONE]', async (t) => {
    const ml = await fakeMl(t, (res) => {
      eventStream(res)
      res.end(`data: ${CHUNK(0)}\n\ndata: ${CHUNK(1)}\n\ndata: [DONE]\n\n`)
    })
    const stream = await openStream(chatUpstream(t, ml.url))
    assert.deepEqual(await drain(stream), [CHUNK(0), CHUNK(1)])
    const [seen] = ml.seen
    assert.equal(seen?.method, 'POST')
    assert.equal(seen.url, '/v1/chat/completions')
    assert.equal(seen.body, BODY)
    assert.equal(seen.headers['x-request-id'], 'r1')
    assert.equal(seen.headers.traceparent, TRACEPARENT)
    assert.equal(seen.headers['content-type'], 'application/json')
    assert.match(seen.headers.accept ?? '', /text\/event-stream/)
  })

  test('events split anywhere, CRLF framing, multi-line data and keep-alive comments', async (t) => {
    const text = `: ping\r\n\r\ndata: ${CHUNK(0)}\r\n\r\n: ping\r\ndata: {"a":\r\ndata: 1}\r\n\r\ndata: [DONE]\r\n\r\n`
    const ml = await fakeMl(t, async (res) => {
      eventStream(res)
      for (let i = 0; i < text.length; i += 7) {
        res.write(text.slice(i, i + 7))
        await sleep(1)
      }
      res.end()
    })
    assert.deepEqual(await drain(await openStream(chatUpstream(t, ml.url))), [CHUNK(0), '{"a":\n1}'])
  })

  test('each event is handed over as it comes, not when the answer ends', async (t) => {
    let sendRest = () => {}
    const rest = new Promise<void>((resolve) => (sendRest = resolve))
    const ml = await fakeMl(t, async (res) => {
      eventStream(res)
      res.write(`data: ${CHUNK(0)}\n\n`)
      await rest
      res.end(`data: ${CHUNK(1)}\n\ndata: [DONE]\n\n`)
    })
    const stream = await openStream(chatUpstream(t, ml.url))
    assert.equal((await stream.next(2000))?.data.toString(), CHUNK(0))
    sendRest()
    assert.deepEqual(await drain(stream), [CHUNK(1)])
  })

  test("the model's error event is the last event: relayed, then the end", async (t) => {
    const error = '{"error":{"message":"the model failed while generating","type":"server_error","code":"model_error"}}'
    const ml = await fakeMl(t, (res) => {
      eventStream(res)
      res.end(`data: ${CHUNK(0)}\n\ndata: ${error}\n\ndata: ${CHUNK(1)}\n\n`)
    })
    assert.deepEqual(await drain(await openStream(chatUpstream(t, ml.url))), [CHUNK(0), `error:${error}`])
  })

  test('an error event as the first event opens the stream', async (t) => {
    const error = '{"error":{"message":"m","type":"server_error","code":"model_error"}}'
    const ml = await fakeMl(t, (res) => {
      eventStream(res)
      res.end(`data: ${error}\n\n`)
    })
    assert.deepEqual(await drain(await openStream(chatUpstream(t, ml.url))), [`error:${error}`])
  })

  test('a connection lost mid-stream: the events received, then upstream_error', async (t) => {
    const ml = await fakeMl(t, async (res) => {
      eventStream(res)
      res.write(`data: ${CHUNK(0)}\n\n`)
      await sleep(50)
      res.destroy()
    })
    const seen = await drain(await openStream(chatUpstream(t, ml.url)))
    assert.deepEqual(seen.map(kind), [CHUNK(0), 'upstream_error'])
  })

  test('an answer that ends without [DONE] is upstream_error', async (t) => {
    const ml = await fakeMl(t, (res) => {
      eventStream(res)
      res.end(`data: ${CHUNK(0)}\n\n`)
    })
    assert.deepEqual((await drain(await openStream(chatUpstream(t, ml.url)))).map(kind), [CHUNK(0), 'upstream_error'])
  })

  test('an event that is not a JSON object breaks the stream off and aborts the upstream', async (t) => {
    const ml = await fakeMl(t, async (res) => {
      eventStream(res)
      res.write(`data: ${CHUNK(0)}\n\ndata: not json\n\n`)
      await sleep(5000)
    })
    assert.deepEqual((await drain(await openStream(chatUpstream(t, ml.url)))).map(kind), [CHUNK(0), 'upstream_error'])
    await ml.seen[0]?.aborted
  })

  test('more events than the buffer holds: slow_reader, the waiting ones dropped, the upstream aborted', async (t) => {
    const ml = await fakeMl(t, async (res) => {
      eventStream(res)
      for (let n = 0; n < 4; n++) res.write(`data: ${CHUNK(n)}\n\n`)
      await sleep(5000)
    })
    const stream = await openStream(chatUpstream(t, ml.url, 2))
    await ml.seen[0]?.aborted // the fourth event overflowed a buffer of 2 (plus the first handed over)
    const seen = await drain(stream)
    assert.deepEqual(seen.map(kind), ['slow_reader'])
  })

  test('events within the buffer are all relayed to a reader that catches up', async (t) => {
    const ml = await fakeMl(t, (res) => {
      eventStream(res)
      res.end(`data: ${CHUNK(0)}\n\ndata: ${CHUNK(1)}\n\ndata: ${CHUNK(2)}\n\ndata: [DONE]\n\n`)
    })
    const stream = await openStream(chatUpstream(t, ml.url, 3))
    await sleep(100) // every event has arrived: they wait in the buffer
    assert.deepEqual(await drain(stream), [CHUNK(0), CHUNK(1), CHUNK(2)])
  })

  test('close() before the end aborts the upstream request at once', async (t) => {
    const ml = await fakeMl(t, async (res) => {
      eventStream(res)
      res.write(`data: ${CHUNK(0)}\n\n`)
      await sleep(5000)
    })
    const stream = await openStream(chatUpstream(t, ml.url))
    assert.ok(await stream.next(1000))
    const closed = Date.now()
    stream.close()
    await ml.seen[0]?.aborted
    assert.ok(Date.now() - closed < 500)
  })

  test('streams do not hold the connections short requests use: a completion is answered beside 80 open streams', async (t) => {
    const ml = await fakeMl(t, async (res, seen) => {
      if (seen.url === '/v1/models') {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end('{"object":"list","data":[]}')
        return
      }
      eventStream(res)
      res.write(`data: ${CHUNK(0)}\n\n`)
      await sleep(5000)
    })
    const upstream = chatUpstream(t, ml.url)
    const streams = await Promise.all(Array.from({ length: 80 }, () => openStream(upstream)))
    t.after(() => {
      for (const stream of streams) stream.close()
    })
    assert.equal((await upstream.models(chatCall())).status, 200)
  })

  test('no event within the gap timeout: upstream_timeout', async (t) => {
    const ml = await fakeMl(t, async (res) => {
      eventStream(res)
      res.write(`data: ${CHUNK(0)}\n\n`)
      for (let i = 0; i < 20; i++) {
        res.write(': ping\n\n') // comments reset no timer
        await sleep(20)
      }
    })
    const stream = await openStream(chatUpstream(t, ml.url))
    assert.deepEqual((await drain(stream, 150)).map(kind), [CHUNK(0), 'upstream_timeout'])
    await ml.seen[0]?.aborted
  })

  test('no first event within the first-token timeout: UpstreamError timeout, the upstream aborted', async (t) => {
    const ml = await fakeMl(t, async (res) => {
      eventStream(res)
      for (let i = 0; i < 50; i++) {
        res.write(': ping\n\n')
        await sleep(20)
      }
    })
    const started = Date.now()
    await rejectsWith(chatUpstream(t, ml.url).stream(chatCall(), 200), 'timeout')
    assert.ok(Date.now() - started < 800)
    await ml.seen[0]?.aborted
  })

  test('no answer at all within the first-token timeout: UpstreamError timeout', async (t) => {
    const ml = await fakeMl(t, () => sleep(5000))
    await rejectsWith(chatUpstream(t, ml.url).stream(chatCall(), 200), 'timeout')
  })

  test('the call signal aborted before the first event: canceled, and the upstream aborted', async (t) => {
    const ml = await fakeMl(t, async (res) => {
      eventStream(res)
      await sleep(5000)
    })
    const client = new AbortController()
    const pending = chatUpstream(t, ml.url).stream(chatCall(client.signal), 5000)
    while (ml.seen.length === 0) await sleep(10)
    client.abort()
    await rejectsWith(pending, 'canceled')
    await ml.seen[0]?.aborted
  })

  test('an answer that ends before its first event is a 502 (bad_response)', async (t) => {
    const ml = await fakeMl(t, (res) => {
      eventStream(res)
      res.end(': ping\n\n')
    })
    await rejectsWith(chatUpstream(t, ml.url).stream(chatCall(), 2000), 'bad_response')
  })

  test('a 4xx problem before the first token is relayed as predict answers are', async (t) => {
    const problem = '{"type":"about:blank","title":"Unprocessable Content","status":422,"detail":"max_completion_tokens is too large"}'
    const ml = await fakeMl(t, (res) => {
      res.writeHead(422, { 'content-type': 'application/problem+json' })
      res.end(problem)
    })
    const answer = (await chatUpstream(t, ml.url).stream(chatCall(), 2000)) as UpstreamAnswer
    assert.equal(answer.status, 422)
    assert.equal(answer.contentType, 'application/problem+json')
    assert.equal(answer.body.toString(), problem)
  })

  test('a 5xx, or a 200 that is not an event stream, is an UpstreamError (502)', async (t) => {
    for (const [status, type, kind] of [[500, 'application/problem+json', 'server_error'], [200, 'application/json', 'bad_response']] as const) {
      const ml = await fakeMl(t, (res) => {
        res.writeHead(status, { 'content-type': type })
        res.end('{}')
      })
      await rejectsWith(chatUpstream(t, ml.url).stream(chatCall(), 2000), kind)
    }
  })

  test('an unreachable ML service is unavailable (502)', async (t) => {
    const ml = await fakeMl(t, () => {})
    const url = ml.url.replace(/:\d+$/, ':1')
    await rejectsWith(chatUpstream(t, url).stream(chatCall(), 2000), 'unavailable')
  })

  test('GET /v1/models and a completion without stream are relayed as predict answers are', async (t) => {
    const models = '{"object":"list","data":[{"id":"ngram","object":"model","created":1,"owned_by":"demo"}]}'
    const completion = '{"id":"chatcmpl-r1","object":"chat.completion"}'
    const ml = await fakeMl(t, (res, seen) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(seen.url === '/v1/models' ? models : completion)
    })
    const upstream = chatUpstream(t, ml.url)
    const call = { ...chatCall(), stream: false }
    assert.equal((await upstream.models(call)).body.toString(), models)
    assert.equal((await upstream.complete(call)).body.toString(), completion)
    assert.deepEqual(ml.seen.map((seen) => [seen.method, seen.url, seen.body, seen.headers['x-request-id']]), [
      ['GET', '/v1/models', '', 'r1'],
      ['POST', '/v1/chat/completions', BODY, 'r1'],
    ])
  })

  test('a completion without stream gets the upstream budget: 504 past it', async (t) => {
    const ml = await fakeMl(t, () => sleep(5000))
    await rejectsWith(chatUpstream(t, ml.url, 16, 200).complete({ ...chatCall(), stream: false }), 'timeout')
  })

  test('an Upstream of another kind is refused when used', async () => {
    const upstream = createChatUpstream({ start: async () => {}, predict: () => assert.fail(), ready: async () => {}, close: async () => {} }, { bufferEvents: 1, onSequenceError: () => {} })
    assert.throws(() => upstream.stream(chatCall(), 100), TypeError)
  })
})
