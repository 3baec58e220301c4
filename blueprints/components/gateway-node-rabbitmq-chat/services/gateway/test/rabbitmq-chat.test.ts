// The RabbitMQ transport's chat side against a real broker (RABBITMQ_URL),
// with the test playing the worker: it takes requests from the request
// queue, publishes stream entries and replies to their reply_to, and
// listens on the cancel exchange as every worker does.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, test, type TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { type Message, connect } from 'amqplib'
import { createLogger } from '../src/log.ts'
import { type ChatCall, type ChatStream, type ChatUpstream, StreamError } from '../src/upstream/chat.ts'
import { createChatUpstream } from '../src/upstream/chat-index.ts'
import { createRabbitUpstream } from '../src/upstream/rabbitmq.ts'
import { UpstreamError, type UpstreamAnswer } from '../src/upstream/upstream.ts'

const RABBITMQ_URL = process.env.RABBITMQ_URL ?? ''
const skip = RABBITMQ_URL ? false : 'RABBITMQ_URL is not set'
// Never a silent skip: without a broker the suite fails, and says how to get one.
test('RABBITMQ_URL names the broker these tests run against', () => {
  assert.ok(RABBITMQ_URL, 'RABBITMQ_URL is not set: run `make test`, which starts a rabbitmq-server, or set RABBITMQ_URL')
})

const BODY = '{"model":"ngram","messages":[{"role":"user","content":"hi"}],"stream":true}'
const CHUNK = (n: number) => `{"id":"chatcmpl-r1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":" t${n}"}}]}`
const ERROR = '{"error":{"message":"the model failed while generating","type":"server_error","code":"model_error"}}'

interface Options {
  bufferEvents?: number
  upstreamTimeoutMs?: number
}

// A RabbitMQ transport on a prefix of its own, its chat side, and a
// connection playing the worker: the request queue declared as the workers
// do, and a queue of its own bound to the cancel exchange.
async function setup(t: TestContext, { bufferEvents = 16, upstreamTimeoutMs = 2000 }: Options = {}) {
  const prefix = `gateway-chat-test-${randomBytes(4).toString('hex')}`
  const connection = await connect(RABBITMQ_URL)
  const channel = await connection.createChannel()
  const requests = `${prefix}.requests`
  const cancelExchange = `${prefix}.cancel`
  await channel.assertQueue(requests, { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': 20, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': `${prefix}.dead` } })
  await channel.assertExchange(cancelExchange, 'fanout', { durable: true })
  const { queue: cancels } = await channel.assertQueue('', { exclusive: true, autoDelete: true })
  await channel.bindQueue(cancels, cancelExchange, '')
  const cancelled = new Set<string>()
  await channel.consume(cancels, (message) => {
    if (message) cancelled.add(`${String(message.properties.correlationId)}:${message.content.length}`)
  }, { noAck: true })

  const counts = { gap: 0, duplicate: 0, dropped: 0 }
  const upstream = createRabbitUpstream({
    instanceId: `gw-${randomBytes(2).toString('hex')}`,
    rabbitmqUrl: RABBITMQ_URL,
    busPrefix: prefix,
    upstreamTimeoutMs,
  }, { log: createLogger('silent'), onDroppedReply: () => counts.dropped++ })
  await upstream.start()
  t.after(async () => {
    await upstream.close()
    await channel.deleteQueue(requests)
    await channel.deleteExchange(cancelExchange)
    await connection.close()
  })
  const chat = createChatUpstream(upstream, { bufferEvents, onSequenceError: (kind) => counts[kind]++ })
  const worker = {
    // Takes the next request, as a worker would.
    async take(): Promise<Message> {
      const until = Date.now() + 5000
      while (Date.now() < until) {
        const message = await channel.get(requests, { noAck: true })
        if (message) return message
        await sleep(10)
      }
      return assert.fail('no request reached the queue')
    },
    // Stream entries: [seq, kind, data] each.
    write(request: Message, ...entries: [number, string, string][]): void {
      for (const [seq, kind, data] of entries) {
        channel.sendToQueue(String(request.properties.replyTo), Buffer.from(data), { correlationId: String(request.properties.correlationId), headers: { seq: String(seq), kind } })
      }
    },
    reply(request: Message, status: number, body: string): void {
      channel.sendToQueue(String(request.properties.replyTo), Buffer.from(body), { correlationId: String(request.properties.correlationId), headers: { status: String(status) } })
    },
    // Whether the gateway published the request's cancel (an empty message
    // with its correlation id) within `ms`.
    async cancelled(request: Message, ms = 5000): Promise<boolean> {
      const key = `${String(request.properties.correlationId)}:0`
      const until = Date.now() + ms
      while (!cancelled.has(key) && Date.now() < until) await sleep(10)
      return cancelled.has(key)
    },
  }
  return { chat, worker, counts }
}

// A header of a request, as text (the contract's headers all are).
function header(message: Message, name: string): string | undefined {
  const value: unknown = message.properties.headers?.[name]
  return typeof value === 'string' ? value : undefined
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
  worker.write(request, ...entries)
  const stream = await pending
  assert.ok('next' in stream, 'a stream, not an answer')
  return { stream, request }
}

async function rejectsWith(promise: Promise<unknown>, kind: UpstreamError['kind']): Promise<void> {
  await assert.rejects(promise, (err: unknown) => err instanceof UpstreamError && err.kind === kind)
}

describe('RabbitMQ chat upstream', { skip }, () => {
  test('sends op chat with the first-token deadline, and relays the entries in order until end', async (t) => {
    const { chat, worker, counts } = await setup(t)
    const before = Date.now()
    const pending = chat.stream(chatCall(), 3000)
    const request = await worker.take()
    assert.equal(header(request, 'op'), 'chat')
    assert.equal(request.content.toString(), BODY)
    assert.equal(header(request, 'request_id'), 'r1')
    const deadline = Number(header(request, 'deadline_ms'))
    assert.ok(deadline >= before + 3000 && deadline <= Date.now() + 3000, `deadline ${deadline}`)
    worker.write(request, [0, 'chunk', CHUNK(0)], [1, 'chunk', CHUNK(1)], [2, 'end', ''])
    const stream = await pending
    assert.ok('next' in stream)
    assert.deepEqual(await drain(stream), [CHUNK(0), CHUNK(1)])
    // After its end the stream is nobody's: a late entry is a dropped reply.
    worker.write(request, [3, 'chunk', CHUNK(3)])
    await sleep(100)
    assert.equal(counts.dropped, 1)
    assert.equal(await worker.cancelled(request, 200), false, 'no cancel for a stream that ended')
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
    assert.ok(await worker.cancelled(request))
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
    worker.reply(await worker.take(), 422, problem)
    const answer = (await pending) as UpstreamAnswer
    assert.equal(answer.status, 422)
    assert.equal(answer.body.toString(), problem)
    assert.equal(answer.contentType, 'application/problem+json')

    const failing = rejectsWith(chat.stream(chatCall(), 3000), 'server_error')
    worker.reply(await worker.take(), 500, '{"detail":"the worker generating this completion stopped"}')
    await failing
  })

  test('an ordinary reply in the middle of a stream ends it with upstream_error', async (t) => {
    const { chat, worker } = await setup(t)
    const { stream, request } = await started(chat, worker, [0, 'chunk', CHUNK(0)])
    worker.reply(request, 500, '{"detail":"the worker generating this completion stopped"}')
    assert.deepEqual(await drain(stream), [CHUNK(0), 'upstream_error'])
  })

  test('a full queue ends its stream with slow_reader and cancels it; another stream goes on', async (t) => {
    const { chat, worker } = await setup(t, { bufferEvents: 2 })
    const slow = await started(chat, worker, [0, 'chunk', CHUNK(0)])
    const other = await started(chat, worker, [0, 'chunk', CHUNK(0)])
    worker.write(slow.request, [1, 'chunk', CHUNK(1)], [2, 'chunk', CHUNK(2)], [3, 'chunk', CHUNK(3)])
    worker.write(other.request, [1, 'chunk', CHUNK(1)], [2, 'end', ''])
    assert.deepEqual(await drain(other.stream), [CHUNK(0), CHUNK(1)])
    assert.deepEqual(await drain(slow.stream), ['slow_reader'])
    assert.ok(await worker.cancelled(slow.request))
    assert.equal(await worker.cancelled(other.request, 200), false)
  })

  test('close() before the end publishes the cancel', async (t) => {
    const { chat, worker } = await setup(t)
    const { stream, request } = await started(chat, worker, [0, 'chunk', CHUNK(0)])
    assert.ok(await stream.next(1000))
    stream.close()
    assert.ok(await worker.cancelled(request))
  })

  test('no entry within the gap timeout: upstream_timeout', async (t) => {
    const { chat, worker } = await setup(t)
    const { stream } = await started(chat, worker, [0, 'chunk', CHUNK(0)])
    assert.deepEqual(await drain(stream, 100), [CHUNK(0), 'upstream_timeout'])
  })

  test('no first entry within the first-token timeout: UpstreamError timeout, and the cancel', async (t) => {
    const { chat, worker } = await setup(t)
    const pending = rejectsWith(chat.stream(chatCall(), 200), 'timeout')
    const request = await worker.take()
    await pending
    assert.ok(await worker.cancelled(request))
  })

  test('the client gone before the first entry: canceled, and the cancel', async (t) => {
    const { chat, worker } = await setup(t)
    const client = new AbortController()
    const pending = chat.stream(chatCall(client.signal), 3000)
    const request = await worker.take()
    client.abort()
    await rejectsWith(pending, 'canceled')
    assert.ok(await worker.cancelled(request))
  })

  test('models (op models, payload {}) and a completion without stream (op chat) get one reply', async (t) => {
    const { chat, worker } = await setup(t, { upstreamTimeoutMs: 1500 })
    const models = '{"object":"list","data":[]}'
    const call = { ...chatCall(), stream: false }
    const listing = chat.models(call)
    const asked = await worker.take()
    assert.equal(header(asked, 'op'), 'models')
    assert.equal(asked.content.toString(), '{}')
    worker.reply(asked, 200, models)
    assert.equal((await listing).body.toString(), models)

    const before = Date.now()
    const completion = chat.complete(call)
    const request = await worker.take()
    assert.equal(header(request, 'op'), 'chat')
    assert.equal(request.content.toString(), BODY)
    const deadline = Number(header(request, 'deadline_ms'))
    assert.ok(deadline >= before + 1500 && deadline <= Date.now() + 1500, `deadline ${deadline}`)
    worker.reply(request, 200, '{"object":"chat.completion"}')
    assert.equal((await completion).status, 200)
    // Its budget is the upstream timeout's.
    await rejectsWith(chat.complete(call), 'timeout')
  })
})
