// The Kafka transport's chat side against a real broker
// (KAFKA_BOOTSTRAP_SERVERS), with the test playing the worker
// (test/kafka-worker.ts): it reads the requests topic and writes stream
// entries and replies to the partition each request names.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, test, type TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { createLogger } from '../src/log.ts'
import { type ChatCall, type ChatStream, type ChatUpstream, StreamError } from '../src/upstream/chat.ts'
import { createChatUpstream } from '../src/upstream/chat-index.ts'
import { createKafkaUpstream } from '../src/upstream/kafka.ts'
import { UpstreamError, type UpstreamAnswer } from '../src/upstream/upstream.ts'
import { BROKERS, FakeWorker, KAFKA_BOOTSTRAP_SERVERS, MISSING_BROKER, type Taken, testPrefix } from './kafka-worker.ts'

const skip = KAFKA_BOOTSTRAP_SERVERS ? false : 'KAFKA_BOOTSTRAP_SERVERS is not set'
// Never a silent skip: without a broker the suite fails, and says how to get one.
test('KAFKA_BOOTSTRAP_SERVERS names the broker these tests run against', () => {
  assert.ok(KAFKA_BOOTSTRAP_SERVERS, MISSING_BROKER)
})

const BODY = '{"model":"ngram","messages":[{"role":"user","content":"hi"}],"stream":true}'
const CHUNK = (n: number) => `{"id":"chatcmpl-r1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":" t${n}"}}]}`
const ERROR = '{"error":{"message":"the model failed while generating","type":"server_error","code":"model_error"}}'

interface Options {
  bufferEvents?: number
  upstreamTimeoutMs?: number
}

// A Kafka transport on topics of its own, its chat side, and a fake worker.
async function setup(t: TestContext, { bufferEvents = 16, upstreamTimeoutMs = 2000 }: Options = {}) {
  const prefix = testPrefix()
  const worker = FakeWorker.create(t, prefix)
  const counts = { gap: 0, duplicate: 0, dropped: 0 }
  const upstream = createKafkaUpstream({
    instanceId: `gw-${randomBytes(2).toString('hex')}`,
    kafkaBrokers: BROKERS,
    busPrefix: prefix,
    requestPartitions: 1,
    replyPartitions: 1,
    upstreamTimeoutMs,
  }, { log: createLogger('silent'), onDroppedReply: () => counts.dropped++ })
  await upstream.start()
  t.after(() => upstream.close())
  const chat = createChatUpstream(upstream, { bufferEvents, onSequenceError: (kind) => counts[kind]++ })
  // The correlation ids cancelled so far (keys of the cancel topic; each
  // value empty): waits up to 5 s for `expected` of them (the gateway produces
  // a cancel without waiting for it), then takes any more that came.
  async function cancelled(expected: number): Promise<string[]> {
    const records = expected > 0 ? await worker.take(expected, worker.topics.cancel) : []
    await sleep(150) // one too many would show by now
    records.push(...(await worker.drain(worker.topics.cancel)))
    assert.ok(records.every((r) => r.value === ''))
    return records.map((r) => r.key)
  }
  return { chat, worker, counts, cancelled }
}

const idOf = (request: Taken) => request.headers.get('id') ?? ''

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
async function started(chat: ChatUpstream, worker: FakeWorker, ...entries: [number, string, string][]) {
  const pending = chat.stream(chatCall(), 3000)
  const [request] = await worker.take()
  assert.ok(request)
  await worker.write(request, ...entries)
  const stream = await pending
  assert.ok('next' in stream, 'a stream, not an answer')
  return { stream, request }
}

async function rejectsWith(promise: Promise<unknown>, kind: UpstreamError['kind']): Promise<void> {
  await assert.rejects(promise, (err: unknown) => err instanceof UpstreamError && err.kind === kind)
}

describe('Kafka chat upstream', { skip }, () => {
  test('sends op chat with the first-token deadline, and relays the entries in order until end', async (t) => {
    const { chat, worker, counts, cancelled } = await setup(t)
    const before = Date.now()
    const pending = chat.stream(chatCall(), 3000)
    const [request] = await worker.take()
    assert.ok(request)
    assert.equal(request.headers.get('op'), 'chat')
    assert.equal(request.value, BODY)
    assert.equal(request.headers.get('request_id'), 'r1')
    const deadline = Number(request.headers.get('deadline_ms'))
    assert.ok(deadline >= before + 3000 && deadline <= Date.now() + 3000, `deadline ${deadline}`)
    await worker.write(request, [0, 'chunk', CHUNK(0)], [1, 'chunk', CHUNK(1)], [2, 'end', ''])
    const stream = await pending
    assert.ok('next' in stream)
    assert.deepEqual(await drain(stream), [CHUNK(0), CHUNK(1)])
    // After its end the stream is nobody's: a late entry is a dropped reply.
    await worker.write(request, [3, 'chunk', CHUNK(3)])
    await sleep(300)
    assert.equal(counts.dropped, 1)
    assert.deepEqual(await cancelled(0), [], 'no cancel for a stream that ended')
  })

  test('a duplicate entry is dropped and counted; the stream goes on', async (t) => {
    const { chat, worker, counts } = await setup(t)
    const { stream } = await started(chat, worker, [0, 'chunk', CHUNK(0)], [0, 'chunk', CHUNK(0)], [1, 'chunk', CHUNK(1)], [1, 'chunk', CHUNK(1)], [2, 'end', ''])
    assert.deepEqual(await drain(stream), [CHUNK(0), CHUNK(1)])
    assert.deepEqual(counts, { gap: 0, duplicate: 2, dropped: 0 })
  })

  test('a gap ends the stream with upstream_error, counted, and the generation cancelled', async (t) => {
    const { chat, worker, counts, cancelled } = await setup(t)
    const { stream, request } = await started(chat, worker, [0, 'chunk', CHUNK(0)], [2, 'chunk', CHUNK(2)])
    assert.deepEqual(await drain(stream), [CHUNK(0), 'upstream_error'])
    assert.equal(counts.gap, 1)
    assert.deepEqual(await cancelled(1), [idOf(request)])
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
    const [asked] = await worker.take()
    assert.ok(asked)
    await worker.reply(asked, 422, problem)
    const answer = (await pending) as UpstreamAnswer
    assert.equal(answer.status, 422)
    assert.equal(answer.body.toString(), problem)
    assert.equal(answer.contentType, 'application/problem+json')

    const failing = rejectsWith(chat.stream(chatCall(), 3000), 'server_error')
    const [again] = await worker.take()
    assert.ok(again)
    await worker.reply(again, 500, '{"detail":"the worker generating this completion stopped"}')
    await failing
  })

  test('an ordinary reply in the middle of a stream ends it with upstream_error', async (t) => {
    const { chat, worker } = await setup(t)
    const { stream, request } = await started(chat, worker, [0, 'chunk', CHUNK(0)])
    await worker.reply(request, 500, '{"detail":"the worker generating this completion stopped"}')
    assert.deepEqual(await drain(stream), [CHUNK(0), 'upstream_error'])
  })

  test('a full queue ends its stream with slow_reader and cancels it; another stream goes on', async (t) => {
    const { chat, worker, cancelled } = await setup(t, { bufferEvents: 2 })
    const slow = await started(chat, worker, [0, 'chunk', CHUNK(0)])
    const other = await started(chat, worker, [0, 'chunk', CHUNK(0)])
    await worker.write(slow.request, [1, 'chunk', CHUNK(1)], [2, 'chunk', CHUNK(2)], [3, 'chunk', CHUNK(3)])
    await worker.write(other.request, [1, 'chunk', CHUNK(1)], [2, 'end', ''])
    assert.deepEqual(await drain(other.stream), [CHUNK(0), CHUNK(1)])
    assert.deepEqual(await drain(slow.stream), ['slow_reader'])
    assert.deepEqual(await cancelled(1), [idOf(slow.request)])
  })

  test('close() before the end produces a cancel record: key the id, no value', async (t) => {
    const { chat, worker, cancelled } = await setup(t)
    const { stream, request } = await started(chat, worker, [0, 'chunk', CHUNK(0)])
    assert.ok(await stream.next(1000))
    stream.close()
    assert.deepEqual(await cancelled(1), [idOf(request)])
  })

  test('no entry within the gap timeout: upstream_timeout', async (t) => {
    const { chat, worker } = await setup(t)
    const { stream } = await started(chat, worker, [0, 'chunk', CHUNK(0)])
    assert.deepEqual(await drain(stream, 100), [CHUNK(0), 'upstream_timeout'])
  })

  test('no first entry within the first-token timeout: UpstreamError timeout, and a cancel', async (t) => {
    const { chat, worker, cancelled } = await setup(t)
    const pending = rejectsWith(chat.stream(chatCall(), 300), 'timeout')
    const [request] = await worker.take()
    assert.ok(request)
    await pending
    assert.deepEqual(await cancelled(1), [idOf(request)])
  })

  test('the client gone before the first entry: canceled, and a cancel', async (t) => {
    const { chat, worker, cancelled } = await setup(t)
    const client = new AbortController()
    const pending = chat.stream(chatCall(client.signal), 3000)
    const [request] = await worker.take()
    assert.ok(request)
    client.abort()
    await rejectsWith(pending, 'canceled')
    assert.deepEqual(await cancelled(1), [idOf(request)])
  })

  test('models (op models, payload {}) and a completion without stream (op chat) get one reply', async (t) => {
    const { chat, worker } = await setup(t, { upstreamTimeoutMs: 1500 })
    const models = '{"object":"list","data":[]}'
    const call = { ...chatCall(), stream: false }
    const listing = chat.models(call)
    const [asked] = await worker.take()
    assert.ok(asked)
    assert.equal(asked.headers.get('op'), 'models')
    assert.equal(asked.value, '{}')
    await worker.reply(asked, 200, models)
    assert.equal((await listing).body.toString(), models)

    const before = Date.now()
    const completion = chat.complete(call)
    const [request] = await worker.take()
    assert.ok(request)
    assert.equal(request.headers.get('op'), 'chat')
    assert.equal(request.value, BODY)
    const deadline = Number(request.headers.get('deadline_ms'))
    assert.ok(deadline >= before + 1500 && deadline <= Date.now() + 1500, `deadline ${deadline}`)
    await worker.reply(request, 200, '{"object":"chat.completion"}')
    assert.equal((await completion).status, 200)
    // Its budget is the upstream timeout's.
    await rejectsWith(chat.complete(call), 'timeout')
  })
})
