// A fake of the transports' chat side (src/upstream/chat.ts) for the chat
// API's tests (not a test file): streams the test feeds event by event,
// with the real ones' bounded queue and timeouts.
import type { ChatCall, ChatEvent, ChatStream, ChatUpstream, ChatUpstreamOptions, CreateChatUpstream } from '../src/upstream/chat.ts'
import { StreamError } from '../src/upstream/chat.ts'
import type { PredictCall, UpstreamAnswer } from '../src/upstream/upstream.ts'

export const chunk = (content: string): string =>
  JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content }, finish_reason: null }] })

// A stream as a transport makes it: events wait in a queue of at most
// `limit` (GATEWAY_STREAM_BUFFER_EVENTS); one more drops them and ends the
// stream with slow_reader.
export class FakeStream implements ChatStream {
  readonly #limit: number
  readonly #queue: (ChatEvent | undefined)[] = []
  #failure: StreamError | undefined
  #waiter: ((item: { event: ChatEvent | undefined } | { error: StreamError }) => void) | undefined
  closed = 0
  overflowed = false

  constructor(limit: number) {
    this.#limit = limit
  }

  push(data: string | Buffer, error = false): void {
    this.#deliver({ data: Buffer.from(data), error })
  }

  end(): void {
    this.#deliver(undefined)
  }

  fail(kind: StreamError['kind']): void {
    this.#failure = new StreamError(kind, kind)
    this.#waiter?.({ error: this.#failure })
  }

  #deliver(event: ChatEvent | undefined): void {
    if (this.#waiter) {
      this.#waiter({ event })
      return
    }
    if (this.#queue.length >= this.#limit) {
      this.overflowed = true
      this.#queue.length = 0
      this.#failure = new StreamError('slow_reader', 'the queue overflowed')
      return
    }
    this.#queue.push(event)
  }

  next(timeoutMs: number): Promise<ChatEvent | undefined> {
    if (this.#queue.length > 0) return Promise.resolve(this.#queue.shift())
    if (this.#failure) return Promise.reject(this.#failure)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined
        reject(new StreamError('upstream_timeout', 'no event in time'))
      }, timeoutMs)
      this.#waiter = (item) => {
        clearTimeout(timer)
        this.#waiter = undefined
        if ('error' in item) reject(item.error)
        else resolve(item.event)
      }
    })
  }

  close(): void {
    this.closed += 1
  }
}

export interface FakeChat {
  create: CreateChatUpstream
  calls: { op: 'models' | 'complete' | 'stream'; call: PredictCall | ChatCall; firstTokenTimeoutMs?: number }[]
  streams: FakeStream[]
  options: ChatUpstreamOptions | undefined
}

export interface FakeBehaviour {
  models?: (call: PredictCall) => Promise<UpstreamAnswer>
  complete?: (call: ChatCall) => Promise<UpstreamAnswer>
  // Default: a stream whose first event is chunk('Hello').
  stream?: (stream: FakeStream, call: ChatCall) => Promise<ChatStream | UpstreamAnswer>
}

const json = (body: string): UpstreamAnswer => ({ status: 200, body: Buffer.from(body), contentType: 'application/json' })
export const MODELS = '{"object":"list","data":[{"id":"ngram","object":"model","created":1764426000,"owned_by":"demo"}]}'
export const COMPLETION = '{"id":"chatcmpl-1","object":"chat.completion","choices":[]}'

export function fakeChat(behaviour: FakeBehaviour = {}): FakeChat {
  const fake: FakeChat = {
    calls: [],
    streams: [],
    options: undefined,
    create(_upstream, options): ChatUpstream {
      fake.options = options
      return {
        models: async (call) => {
          fake.calls.push({ op: 'models', call })
          return behaviour.models ? behaviour.models(call) : json(MODELS)
        },
        complete: async (call) => {
          fake.calls.push({ op: 'complete', call })
          return behaviour.complete ? behaviour.complete(call) : json(COMPLETION)
        },
        stream: async (call, firstTokenTimeoutMs) => {
          fake.calls.push({ op: 'stream', call, firstTokenTimeoutMs })
          const stream = new FakeStream(options.bufferEvents)
          fake.streams.push(stream)
          if (behaviour.stream) return behaviour.stream(stream, call)
          stream.push(chunk('Hello'))
          return stream
        },
      }
    },
  }
  return fake
}
