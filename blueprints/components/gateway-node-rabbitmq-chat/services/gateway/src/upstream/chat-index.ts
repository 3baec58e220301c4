// The RabbitMQ transport's chat side (docs/ml-gateway-contract.md, "Chat
// completions", "RabbitMQ and Kafka protocol"): GET /v1/models (op
// `models`) and non-streaming completions (op `chat`) get one reply, as
// predictions do; a streaming completion gets stream entries (headers `seq`
// and `kind`, the data as the body) on this instance's reply queue, which
// the one consumer hands to the stream's bounded queue in the order
// received, never waiting for the client. As over Redis Streams, entry for
// entry: only the carriage differs.
import type { ChatCall, ChatStream, ChatUpstream, ChatUpstreamOptions } from './chat.ts'
import { StreamError } from './chat.ts'
import { ChatQueue } from './chat-queue.ts'
import type { BusExchange, RabbitUpstream, Reply, Route } from './rabbitmq.ts'
import { type Upstream, type UpstreamAnswer, UpstreamError } from './upstream.ts'

const BROKE_OFF = "the model's stream broke off"
const SEQ = /^(0|[1-9][0-9]{0,15})$/

export function createChatUpstream(upstream: Upstream, options: ChatUpstreamOptions): ChatUpstream {
  // Only this transport's Upstream has the exchange; with another (a test's
  // stub) every call fails, saying why.
  const exchange = (upstream as Partial<RabbitUpstream>).exchange
  function bus(): BusExchange {
    if (!exchange) throw new TypeError('createChatUpstream needs the Upstream of src/upstream/index.ts (RabbitMQ)')
    return exchange
  }
  return {
    models: (call) => bus().request('models', { ...call, body: Buffer.from('{}') }),
    complete: (call) => bus().request('chat', call),
    stream: (call, firstTokenTimeoutMs) => openStream(bus(), call, firstTokenTimeoutMs, options),
  }
}

// Sends the completion and waits, up to firstTokenTimeoutMs (its
// deadline_ms too), for its first stream entry, or an ordinary reply
// (answered as predict's). Past it, or once the client went away, the
// generation is cancelled.
async function openStream(bus: BusExchange, call: ChatCall, firstTokenTimeoutMs: number, options: ChatUpstreamOptions): Promise<ChatStream | UpstreamAnswer> {
  if (call.signal?.aborted === true) throw new UpstreamError('canceled', 'the client went away before the request was sent')
  // Settles with the ordinary reply, or undefined once the stream started.
  const { promise, resolve, reject } = Promise.withResolvers<Reply | undefined>()
  let id = ''
  const queue = new ChatQueue(options.bufferEvents, () => {
    bus.unroute(id)
    bus.cancel(id)
  })
  queue.onStart(() => {
    resolve(undefined)
  })
  const timer = setTimeout(() => {
    reject(new UpstreamError('timeout', `the model sent no token within ${firstTokenTimeoutMs} ms`))
  }, firstTokenTimeoutMs)
  const onAbort = () => {
    reject(new UpstreamError('canceled', 'the client went away before the first token'))
  }
  call.signal?.addEventListener('abort', onAbort, { once: true })
  let reply: Reply | undefined
  try {
    const sending = bus.send('chat', call, firstTokenTimeoutMs, new ChatRoute(queue, options.onSequenceError, () => bus.unroute(id), resolve))
    id = sending.id
    sending.sent.catch(reject)
    reply = await promise
  } catch (err) {
    if (id !== '') {
      // Nothing came in time, or nobody waits any more: stop the generation.
      bus.unroute(id)
      queue.close()
    }
    throw err
  } finally {
    clearTimeout(timer)
    call.signal?.removeEventListener('abort', onAbort)
  }
  if (reply) {
    bus.unroute(id)
    return bus.answerOf(reply)
  }
  if (queue.received === 0 && queue.failure) {
    throw new UpstreamError('bad_response', 'the worker broke the stream off before its first event', { cause: queue.failure })
  }
  return queue
}

// The entries of one streaming completion, checked and queued.
class ChatRoute implements Route {
  readonly #queue: ChatQueue
  readonly #onSequenceError: ChatUpstreamOptions['onSequenceError']
  // Stops the routing of this id: after the last entry, later ones are
  // nobody's (and counted as dropped replies).
  readonly #unroute: () => void
  // An ordinary reply that came before any stream entry.
  readonly #onReply: (reply: Reply) => void
  #expected = 0 // the next seq

  constructor(queue: ChatQueue, onSequenceError: ChatUpstreamOptions['onSequenceError'], unroute: () => void, onReply: (reply: Reply) => void) {
    this.#queue = queue
    this.#onSequenceError = onSequenceError
    this.#unroute = unroute
    this.#onReply = onReply
  }

  entry(reply: Reply): void {
    const { seq } = reply
    if (seq === undefined) {
      if (this.#expected === 0) {
        this.#onReply(reply)
      } else {
        // The worker answered anew mid-stream (it was redelivered): this
        // stream will get no more entries, so there is nothing to cancel.
        this.#unroute()
        this.#queue.fail(new StreamError('upstream_error', BROKE_OFF, { cause: new Error('an ordinary reply in the middle of a stream') }))
      }
      return
    }
    if (!SEQ.test(seq)) {
      this.#breakOff(`an entry with seq ${JSON.stringify(seq)}`)
      return
    }
    const n = Number(seq)
    if (n < this.#expected) {
      this.#onSequenceError('duplicate')
      return
    }
    if (n > this.#expected) {
      this.#onSequenceError('gap')
      this.#breakOff(`entry ${n} came when ${this.#expected} was due`)
      return
    }
    this.#expected++
    this.#take(reply.kind, reply.body)
  }

  closed(err: UpstreamError): void {
    this.#queue.fail(new StreamError('upstream_error', BROKE_OFF, { cause: err }))
  }

  #take(kind: string | undefined, data: Buffer): void {
    if (kind === 'end') {
      this.#unroute()
      this.#queue.end()
    } else if ((kind === 'chunk' || kind === 'error') && data.length > 0) {
      this.#queue.push({ data, error: kind === 'error' })
      if (kind === 'error') {
        this.#unroute()
        this.#queue.end()
      }
    } else {
      this.#breakOff(`an entry of kind ${JSON.stringify(kind)} with ${data.length === 0 ? 'no' : 'some'} data`)
    }
  }

  // Ends the stream with upstream_error and cancels the generation.
  #breakOff(why: string): void {
    this.#queue.abandon(new StreamError('upstream_error', BROKE_OFF, { cause: new Error(why) }))
  }
}
