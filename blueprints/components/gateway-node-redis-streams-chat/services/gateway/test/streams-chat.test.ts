// The Redis Streams transport's chat side against a real Redis (REDIS_URL),
// with the test playing the worker: XREADGROUP from the request stream,
// XADD stream entries and replies.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, test, type TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { createLogger } from '../src/log.ts'
import { type ChatCall, type ChatStream, type ChatUpstream, StreamError } from '../src/upstream/chat.ts'
import { createChatUpstream } from '../src/upstream/chat-index.ts'
import { GROUP, createStreamsUpstream } from '../src/upstream/streams.ts'
import { UpstreamError, type UpstreamAnswer } from '../src/upstream/upstream.ts'

const REDIS_URL = process.env.REDIS_URL ?? ''
const skip = REDIS_URL ? false : 'REDIS_URL is not set'
// Never a silent skip: without a Redis server the suite fails, and says how to get one.
test('REDIS_URL names the Redis server these tests run against', () => {
  assert.ok(REDIS_URL, 'REDIS_URL is not set: run `make test`, which starts a redis-server, or set REDIS_URL')
})

const BODY = '{"model":"ngram","messages":[{"role":"user","content":"hi"}],"stream":true}'
const CHUNK = (n: number) => `{"id":"chatcmpl-r1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":" t${n}"}}]}`
const ERROR = '{"error":{"message":"the model failed while generating","type":"server_error","code":"model_error"}}'

interface Taken {
  entryId: string
  fields: Record<string, string>
}

type XreadResult = [string, [string, string[]][]][] | null

interface Options {
  bufferEvents?: number
  upstreamTimeoutMs?: number
}

// A streams transport on a prefix of its own, its chat side, and a Redis
// client playing the worker. Every key under the prefix is deleted afterwards.
async function setup(t: TestContext, { bufferEvents = 16, upstreamTimeoutMs = 2000 }: Options = {}) {
  const prefix = `gateway-chat-test-${randomBytes(4).toString('hex')}`
  const redis = new Redis(REDIS_URL)
  const counts = { gap: 0, duplicate: 0, dropped: 0 }
  const upstream = createStreamsUpstream({
    instanceId: `gw-${randomBytes(2).toString('hex')}`,
    redisUrl: REDIS_URL,
    streamPrefix: prefix,
    streamMaxlen: 1000,
    upstreamTimeoutMs,
  }, { log: createLogger('silent'), onDroppedReply: () => counts.dropped++ })
  await upstream.start()
  t.after(async () => {
    await upstream.close()
    const keys = await redis.keys(`${prefix}:*`)
    if (keys.length) await redis.del(...keys)
    redis.disconnect()
  })
  const chat = createChatUpstream(upstream, { bufferEvents, onSequenceError: (kind) => counts[kind]++ })
  const worker = {
    // Takes the next request, as a worker would (XREADGROUP ... >).
    async take(): Promise<Taken> {
      const until = Date.now() + 5000
      while (Date.now() < until) {
        const result = (await redis.xreadgroup('GROUP', GROUP, 'test-worker', 'COUNT', 1,
          'BLOCK', 200, 'STREAMS', upstream.requestStream, '>')) as XreadResult
        const [entryId, list] = result?.[0]?.[1][0] ?? []
        if (entryId && list) {
          const fields: Record<string, string> = {}
          for (let i = 0; i + 1 < list.length; i += 2) fields[list[i] ?? ''] = list[i + 1] ?? ''
          return { entryId, fields }
        }
      }
      return assert.fail('no request reached the stream')
    },
    // Stream entries: [seq, kind, data] each.
    async write(request: Taken, ...entries: [number, string, string][]): Promise<void> {
      for (const [seq, kind, data] of entries) {
        await redis.xadd(request.fields.reply_to ?? '', '*', 'id', request.fields.id ?? '', 'seq', String(seq), 'kind', kind, 'data', data)
      }
    },
    async reply(request: Taken, status: number, body: string): Promise<void> {
      await redis.xadd(request.fields.reply_to ?? '', '*', 'id', request.fields.id ?? '', 'status', String(status), 'body', body)
    },
    // The cancel key's TTL in ms (-2: no key).
    cancelTtl(request: Taken): Promise<number> {
      return redis.pttl(`${prefix}:cancel:${request.fields.id ?? ''}`)
    },
    // Waits for the cancel key (the gateway sets it without waiting for Redis's
    // answer, on its own connection), and returns its TTL in ms (-2: none came).
    async cancelled(request: Taken): Promise<number> {
      const until = Date.now() + 5000
      for (;;) {
        const ttl = await this.cancelTtl(request)
        if (ttl > 0 || Date.now() > until) return ttl
        await sleep(10)
      }
    },
  }
  return { chat, worker, counts }
}

function chatCall(signal?: AbortSignal): ChatCall {
  return { body: Buffer.from(BODY), requestId: 'r1', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', stream: true, ...(signal && { signal }) }
}

// Every event until the end; the stream's error, if any, as the last item.
async function drain(stream: ChatStream, gapMs = 2000): Promise<string[]> {
  const seen: string[] = []
  try {
    for (let event = await stream.next(gapMs); event; event = await stream.next(gapMs)) {
      seen.push(event.error ? `error:${event.data.toString()}` : event.data.toString())
    }
  } catch (err) {
    assert.ok(err instanceof StreamError, String(err))
    seen.push(err.kind)
  } finally {
    stream.close()
  }
  return seen
}

// Starts a streaming completion, takes it as the worker, and writes `entries`.
async function started(chat: ChatUpstream, worker: Awaited<ReturnType<typeof setup>>['worker'], ...entries: [number, string, string][]) {
  const pending = chat.stream(chatCall(), 3000)
  const request = await worker.take()
  await worker.write(request, ...entries)
  const stream = await pending
  assert.ok('next' in stream, 'a stream, not an answer')
  return { stream, request }
}

async function rejectsWith(promise: Promise<unknown>, kind: UpstreamError['kind']): Promise<void> {
  await assert.rejects(promise, (err: unknown) => err instanceof UpstreamError && err.kind === kind)
}

describe('Redis Streams chat upstream', { skip }, () => {
  test('sends op chat with the first-token deadline, and relays the entries in order until end', async (t) => {
    const { chat, worker, counts } = await setup(t)
    const before = Date.now()
    const pending = chat.stream(chatCall(), 3000)
    const request = await worker.take()
    assert.equal(request.fields.op, 'chat')
    assert.equal(request.fields.payload, BODY)
    assert.equal(request.fields.request_id, 'r1')
    const deadline = Number(request.fields.deadline_ms)
    assert.ok(deadline >= before + 3000 && deadline <= Date.now() + 3000, `deadline ${deadline}`)
    await worker.write(request, [0, 'chunk', CHUNK(0)], [1, 'chunk', CHUNK(1)], [2, 'end', ''])
    const stream = await pending
    assert.ok('next' in stream)
    assert.deepEqual(await drain(stream), [CHUNK(0), CHUNK(1)])
    // After its end the stream is nobody's: a late entry is a dropped reply.
    await worker.write(request, [3, 'chunk', CHUNK(3)])
    await sleep(100)
    assert.equal(counts.dropped, 1)
    assert.equal(await worker.cancelTtl(request), -2, 'no cancel key for a stream that ended')
  })

  test('a duplicate entry is dropped and counted; the stream goes on', async (t) => {
    const { chat, worker, counts } = await setup(t)
    const { stream } = await started(chat, worker, [0, 'chunk', CHUNK(0)], [0, 'chunk', CHUNK(0)], [1, 'chunk', CHUNK(1)], [1, 'chunk', CHUNK(1)], [2, 'end', ''])
    assert.deepEqual(await drain(stream), [CHUNK(0), CHUNK(1)])
    assert.deepEqual(counts, { gap: 0, duplicate: 2, dropped: 0 })
  })

  test('a gap ends the stream with upstream_error, counted, and the generation cancelled', async (t) => {
    const { chat, worker, counts } = await setup(t)
    const { stream, request } = await started(chat, worker, [0, 'chunk', CHUNK(0)], [2, 'chunk', CHUNK(2)])
    assert.deepEqual(await drain(stream), [CHUNK(0), 'upstream_error'])
    assert.equal(counts.gap, 1)
    assert.ok(await worker.cancelled(request) > 290_000)
  })

  test('an error entry is the last event: relayed, then the end', async (t) => {
    const { chat, worker } = await setup(t)
    const { stream } = await started(chat, worker, [0, 'chunk', CHUNK(0)], [1, 'error', ERROR], [2, 'chunk', CHUNK(2)])
    assert.deepEqual(await drain(stream), [CHUNK(0), `error:${ERROR}`])
  })

  test('an entry of an unknown kind breaks the stream off', async (t) => {
    const { chat, worker } = await setup(t)
    const { stream } = await started(chat, worker, [0, 'chunk', CHUNK(0)], [1, 'nonsense', 'x'])
    assert.deepEqual(await drain(stream), [CHUNK(0), 'upstream_error'])
  })

  test('an ordinary reply before any entry is answered as predict: a 422 relayed, a 500 a 502', async (t) => {
    const { chat, worker } = await setup(t)
    const problem = '{"type":"about:blank","title":"Unprocessable Content","status":422,"detail":"d"}'
    const pending = chat.stream(chatCall(), 3000)
    await worker.reply(await worker.take(), 422, problem)
    const answer = (await pending) as UpstreamAnswer
    assert.equal(answer.status, 422)
    assert.equal(answer.body.toString(), problem)
    assert.equal(answer.contentType, 'application/problem+json')

    const failing = rejectsWith(chat.stream(chatCall(), 3000), 'server_error')
    await worker.reply(await worker.take(), 500, '{"detail":"the worker generating this completion stopped"}')
    await failing
  })

  test('an ordinary reply in the middle of a stream ends it with upstream_error', async (t) => {
    const { chat, worker } = await setup(t)
    const { stream, request } = await started(chat, worker, [0, 'chunk', CHUNK(0)])
    await worker.reply(request, 500, '{"detail":"the worker generating this completion stopped"}')
    assert.deepEqual(await drain(stream), [CHUNK(0), 'upstream_error'])
  })

  test('a full queue ends its stream with slow_reader and cancels it; another stream goes on', async (t) => {
    const { chat, worker } = await setup(t, { bufferEvents: 2 })
    const slow = await started(chat, worker, [0, 'chunk', CHUNK(0)])
    const other = await started(chat, worker, [0, 'chunk', CHUNK(0)])
    await worker.write(slow.request, [1, 'chunk', CHUNK(1)], [2, 'chunk', CHUNK(2)], [3, 'chunk', CHUNK(3)])
    await worker.write(other.request, [1, 'chunk', CHUNK(1)], [2, 'end', ''])
    assert.deepEqual(await drain(other.stream), [CHUNK(0), CHUNK(1)])
    assert.deepEqual(await drain(slow.stream), ['slow_reader'])
    assert.ok(await worker.cancelled(slow.request) > 290_000)
    assert.equal(await worker.cancelTtl(other.request), -2)
  })

  test('close() before the end sets the cancel key for 300 s', async (t) => {
    const { chat, worker } = await setup(t)
    const { stream, request } = await started(chat, worker, [0, 'chunk', CHUNK(0)])
    assert.ok(await stream.next(1000))
    stream.close()
    const ttl = await worker.cancelled(request)
    assert.ok(ttl > 290_000 && ttl <= 300_000, `ttl ${ttl}`)
  })

  test('no entry within the gap timeout: upstream_timeout', async (t) => {
    const { chat, worker } = await setup(t)
    const { stream } = await started(chat, worker, [0, 'chunk', CHUNK(0)])
    assert.deepEqual(await drain(stream, 100), [CHUNK(0), 'upstream_timeout'])
  })

  test('no first entry within the first-token timeout: UpstreamError timeout, and the cancel key', async (t) => {
    const { chat, worker } = await setup(t)
    const pending = rejectsWith(chat.stream(chatCall(), 200), 'timeout')
    const request = await worker.take()
    await pending
    assert.ok(await worker.cancelled(request) > 290_000)
  })

  test('the client gone before the first entry: canceled, and the cancel key', async (t) => {
    const { chat, worker } = await setup(t)
    const client = new AbortController()
    const pending = chat.stream(chatCall(client.signal), 3000)
    const request = await worker.take()
    client.abort()
    await rejectsWith(pending, 'canceled')
    assert.ok(await worker.cancelled(request) > 290_000)
  })

  test('models (op models, payload {}) and a completion without stream (op chat) get one reply', async (t) => {
    const { chat, worker } = await setup(t, { upstreamTimeoutMs: 1500 })
    const models = '{"object":"list","data":[]}'
    const call = { ...chatCall(), stream: false }
    const listing = chat.models(call)
    const asked = await worker.take()
    assert.equal(asked.fields.op, 'models')
    assert.equal(asked.fields.payload, '{}')
    await worker.reply(asked, 200, models)
    assert.equal((await listing).body.toString(), models)

    const before = Date.now()
    const completion = chat.complete(call)
    const request = await worker.take()
    assert.equal(request.fields.op, 'chat')
    assert.equal(request.fields.payload, BODY)
    const deadline = Number(request.fields.deadline_ms)
    assert.ok(deadline >= before + 1500 && deadline <= Date.now() + 1500, `deadline ${deadline}`)
    await worker.reply(request, 200, '{"object":"chat.completion"}')
    assert.equal((await completion).status, 200)
    // Its budget is the upstream timeout's.
    await rejectsWith(chat.complete(call), 'timeout')
  })
})
