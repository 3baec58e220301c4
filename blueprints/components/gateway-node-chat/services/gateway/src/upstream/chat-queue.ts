// The bounded queue between a transport's upstream stream and the client
// (docs/ml-gateway-contract.md, "Backpressure"): the transport pushes events
// as they arrive and never waits; the chat API takes them with next(). Both
// transports' ChatStream are this queue.
import type { ChatEvent, ChatStream } from './chat.ts'
import { StreamError } from './chat.ts'

const GAP_MESSAGE = 'the model sent no token in time'
const SLOW_MESSAGE = 'the client read the stream too slowly'

interface Waiter {
  resolve: (event: ChatEvent | undefined) => void
  reject: (err: StreamError) => void
}

export class ChatQueue implements ChatStream {
  readonly #limit: number
  // Stops the generation upstream: the request is aborted, or the cancel key set.
  readonly #cancel: () => void
  readonly #events: ChatEvent[] = []
  #waiter: Waiter | undefined
  // Set when the upstream has sent its last event ('end'), or broke off
  // ('failed'); either way there is nothing left to cancel.
  #ended = false
  #failure: StreamError | undefined
  #closed = false
  #received = 0
  #whenStarted: (() => void) | undefined

  constructor(limit: number, cancel: () => void) {
    this.#limit = limit
    this.#cancel = cancel
  }

  // Events received so far (not only those still waiting).
  get received(): number {
    return this.#received
  }

  // True once the upstream sent its last event or broke off.
  get settled(): boolean {
    return this.#ended || this.#failure !== undefined
  }

  // Whether the first event, the end or a failure has come: what a
  // transport's stream() waits for before it hands the stream over.
  get started(): boolean {
    return this.#received > 0 || this.settled
  }

  // The failure that ended the stream, if any.
  get failure(): StreamError | undefined {
    return this.#failure
  }

  // Calls `fn` once, when the stream has started (see `started`).
  onStart(fn: () => void): void {
    if (this.started) fn()
    else this.#whenStarted = fn
  }

  // One event from the upstream. One more than the limit waiting ends the
  // stream: the waiting events are dropped and the generation cancelled.
  push(event: ChatEvent): void {
    if (this.settled || this.#closed) return
    this.#received++
    if (this.#waiter) {
      this.#take().resolve(event)
    } else if (this.#events.length >= this.#limit) {
      this.#events.length = 0
      this.fail(new StreamError('slow_reader', SLOW_MESSAGE))
      this.#cancel()
      return
    } else {
      this.#events.push(event)
    }
    this.#markStarted()
  }

  // The upstream's last event came (`[DONE]`, the end entry, or after its
  // error event): next() gives undefined once the waiting events are taken.
  end(): void {
    if (this.settled) return
    this.#ended = true
    if (this.#waiter) this.#take().resolve(undefined)
    this.#markStarted()
  }

  // The upstream broke off: next() throws `err` once the waiting events are
  // taken (a slow reader's are dropped before).
  fail(err: StreamError): void {
    if (this.settled) return
    this.#failure = err
    if (this.#waiter) this.#take().reject(err)
    this.#markStarted()
  }

  // The gateway found the stream broken (an unreadable event, an entry out
  // of sequence): fail() it, and cancel the generation.
  abandon(err: StreamError): void {
    if (this.settled) return
    this.fail(err)
    this.#cancel()
  }

  next(timeoutMs: number): Promise<ChatEvent | undefined> {
    const event = this.#events.shift()
    if (event) return Promise.resolve(event)
    if (this.#failure) return Promise.reject(this.#failure)
    if (this.#ended || this.#closed) return Promise.resolve(undefined)
    if (this.#waiter) return Promise.reject(new Error('ChatQueue.next() called while another next() waits'))
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined
        reject(new StreamError('upstream_timeout', GAP_MESSAGE))
      }, timeoutMs)
      this.#waiter = {
        resolve: (value) => {
          clearTimeout(timer)
          resolve(value)
        },
        reject: (err) => {
          clearTimeout(timer)
          reject(err)
        },
      }
    })
  }

  // Ends the stream: a next() still waiting gets undefined, and a
  // generation still running upstream is cancelled.
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#events.length = 0
    if (this.#waiter) this.#take().resolve(undefined)
    if (!this.settled) this.#cancel()
  }

  #take(): Waiter {
    const waiter = this.#waiter as Waiter
    this.#waiter = undefined
    return waiter
  }

  #markStarted(): void {
    const fn = this.#whenStarted
    this.#whenStarted = undefined
    fn?.()
  }
}
