// The HTTP transport's chat side (docs/ml-gateway-contract.md, "Chat
// completions"): GET /v1/models and non-streaming completions are relayed as
// predictions are; a streaming completion is read as the event stream comes,
// each event pushed at once to the stream's bounded queue, whatever the
// client's pace (a client too slow ends its stream, never the upstream read).
import type { Readable } from 'node:stream'
import { JSON_TYPE, PROBLEM_TYPE } from '../problem.ts'
import type { ChatCall, ChatStream, ChatUpstream, ChatUpstreamOptions } from './chat.ts'
import { StreamError } from './chat.ts'
import { ChatQueue } from './chat-queue.ts'
import { type HttpExchange, type HttpUpstream, mediaType } from './http.ts'
import { SseParser } from './sse.ts'
import { type Upstream, type UpstreamAnswer, UpstreamError } from './upstream.ts'

const EVENT_STREAM = 'text/event-stream'
// A stream answers with events; a problem found before the first token
// comes as one JSON answer.
const STREAM_ANSWER_TYPES = `${EVENT_STREAM}, ${JSON_TYPE}, ${PROBLEM_TYPE}`
const DONE = Buffer.from('[DONE]')
const BROKE_OFF = "the model's stream broke off"

export function createChatUpstream(upstream: Upstream, options: ChatUpstreamOptions): ChatUpstream {
  // Only this transport's Upstream has the exchange; with another (a test's
  // stub) every call fails, saying why.
  const exchange = (upstream as Partial<HttpUpstream>).exchange
  function http(): HttpExchange {
    if (!exchange) throw new TypeError('createChatUpstream needs the Upstream of src/upstream/index.ts (HTTP)')
    return exchange
  }
  return {
    models: (call) => http().relay('GET', '/v1/models', 'the model list', call),
    complete: (call) => http().relay('POST', '/v1/chat/completions', 'the completion', call),
    stream: (call, firstTokenTimeoutMs) => openStream(http(), call, firstTokenTimeoutMs, options.bufferEvents),
  }
}

// POSTs the completion and waits, up to firstTokenTimeoutMs in all, for
// the first event (or the end, or a failure) of its event stream: then the
// stream is handed over. An answer that is not an event stream is taken as
// predict's (a 4xx problem relayed, anything else an UpstreamError).
async function openStream(http: HttpExchange, call: ChatCall, firstTokenTimeoutMs: number, bufferEvents: number): Promise<ChatStream | UpstreamAnswer> {
  const upstream = new AbortController() // aborting it ends the generation
  const signal = call.signal ? AbortSignal.any([upstream.signal, call.signal]) : upstream.signal
  const queue = new ChatQueue(bufferEvents, () => upstream.abort())
  const firstToken = new AbortController() // aborted when its time is over
  const timer = setTimeout(() => {
    firstToken.abort()
    upstream.abort()
  }, firstTokenTimeoutMs)
  try {
    const res = await http.open('POST', '/v1/chat/completions', call, STREAM_ANSWER_TYPES, signal)
    if (res.statusCode !== 200) return await http.answerOf(res)
    if (mediaType(res.headers) !== EVENT_STREAM) {
      await res.body.dump()
      throw new UpstreamError('bad_response', `the ML service answered a streaming completion with ${mediaType(res.headers) || 'no Content-Type'}`)
    }
    readEvents(res.body, queue)
    await started(queue, signal)
    if (queue.received === 0 && queue.failure) {
      throw new UpstreamError('bad_response', 'the ML service ended the stream before its first event', { cause: queue.failure })
    }
    return queue
  } catch (err) {
    upstream.abort()
    if (firstToken.signal.aborted) throw new UpstreamError('timeout', `the model sent no token within ${firstTokenTimeoutMs} ms`, { cause: err })
    if (err instanceof UpstreamError) throw err
    if (call.signal?.aborted === true) throw new UpstreamError('canceled', 'the client went away before the first token', { cause: err })
    const { code, message } = err as { code?: string; message?: string }
    throw new UpstreamError('unavailable', `the ML service is unreachable: ${code ?? message ?? String(err)}`, { cause: err })
  } finally {
    clearTimeout(timer)
  }
}

// Parses `body` as it comes into `queue`: `[DONE]` ends it, an error event
// is the last event, anything unreadable or a body that ends before either
// breaks the stream off (and aborts the upstream).
function readEvents(body: Readable, queue: ChatQueue): void {
  const breakOff = (cause: unknown) => {
    queue.abandon(new StreamError('upstream_error', BROKE_OFF, { cause }))
  }
  const parser = new SseParser((data) => {
    if (queue.settled) return // past the end: nothing more is relayed
    if (data.equals(DONE)) {
      queue.end()
      return
    }
    const error = errorEvent(data)
    if (error === undefined) {
      breakOff(new Error('an event that is not a JSON object'))
      return
    }
    queue.push({ data, error })
    if (error) queue.end()
  })
  body.on('data', (chunk: Buffer) => {
    try {
      parser.push(chunk)
    } catch (err) {
      breakOff(err)
    }
  })
  body.on('end', () => queue.fail(new StreamError('upstream_error', BROKE_OFF)))
  body.on('error', (err) => queue.fail(new StreamError('upstream_error', BROKE_OFF, { cause: err })))
}

// Whether `data` is the model's error event (`{"error":...}`); undefined
// when it is not a JSON object at all.
function errorEvent(data: Buffer): boolean | undefined {
  let parsed: unknown
  try {
    parsed = JSON.parse(data.toString('utf8'))
  } catch {
    return undefined
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined
  return Object.hasOwn(parsed, 'error')
}

// Resolves once the queue has its first event, its end or its failure;
// rejects when `signal` aborts first.
function started(queue: ChatQueue, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      reject(signal.reason as Error)
    }
    if (signal.aborted) {
      onAbort()
      return
    }
    signal.addEventListener('abort', onAbort, { once: true })
    queue.onStart(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    })
  })
}
