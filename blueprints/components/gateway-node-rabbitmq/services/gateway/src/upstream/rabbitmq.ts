// RabbitMQ transport (docs/ml-gateway-contract.md, "RabbitMQ and Kafka
// protocol"): each request is published to the {prefix}.requests queue on a
// confirm channel (mandatory, persistent), and the worker's reply comes
// back on this instance's own reply queue, {prefix}.replies.{instance}:
// exclusive and auto-delete, so it goes away with a dead gateway's
// connection, and named, so it keeps its address across a reconnect. One
// consumer hands each reply to the waiting request by its correlation id.
// One connection per instance, reconnected with backoff while the gateway
// runs; while it is down a request is a 502 at once. The instance is ready
// while the request queue has a consumer (a worker).
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { type ChannelModel, type ConfirmChannel, type ConsumeMessage, type Message, connect } from 'amqplib'
import { JSON_TYPE, PROBLEM_TYPE } from '../problem.ts'
import { type PredictCall, type Upstream, type UpstreamAnswer, type UpstreamDeps, UpstreamError } from './upstream.ts'

// Reconnect backoff: 100 ms doubling to 5 s, each delay drawn from its
// upper half so that gateways restarted together do not reconnect together.
const BACKOFF_FIRST_MS = 100
const BACKOFF_MAX_MS = 5000
// AMQP heartbeat: a broker that went silent is noticed within two of them.
const HEARTBEAT_SECONDS = 5

export interface RabbitUpstreamConfig {
  readonly instanceId: string
  readonly rabbitmqUrl: string
  readonly busPrefix: string
  readonly upstreamTimeoutMs: number
}

// A message of the reply queue: its correlation id, the headers the
// contract names (only text values count) and its body.
export interface Reply {
  readonly id: string
  readonly status?: string
  readonly seq?: string
  readonly kind?: string
  readonly body: Buffer
}

// Who waits for the replies of one correlation id.
export interface Route {
  // Each reply for the id, in the order received. It must not block: the
  // one consumer serves every request of this instance.
  entry(reply: Reply): void
  // The transport closes: no reply will come.
  closed(err: UpstreamError): void
}

// The exchanges other parts of the gateway build on this transport (its
// chat side): the same queues, consumer and reply rules as predict's.
export interface BusExchange {
  // One request, one reply, within the upstream budget: as predict's.
  request(op: string, call: PredictCall): Promise<UpstreamAnswer>
  // Publishes a request of `op`, with deadline_ms `budgetMs` from now, and
  // routes the replies that come for its id to `route` until unroute().
  // `sent` settles once the broker confirmed it (UpstreamError
  // 'unavailable' on a nack, a return or a lost connection).
  send(op: string, call: PredictCall, budgetMs: number, route: Route): { id: string; sent: Promise<void> }
  unroute(id: string): void
  // An ordinary reply's answer, as predict's (throws UpstreamError).
  answerOf(reply: Reply): UpstreamAnswer
  // Tells the workers to stop generating `id` (fire and forget).
  cancel(id: string): void
}

export interface RabbitUpstream extends Upstream {
  readonly requestQueue: string
  readonly replyQueue: string
  readonly cancelExchange: string
  readonly exchange: BusExchange
}

// What one live connection holds; replaced whole on reconnect.
interface Link {
  readonly connection: ChannelModel
  // Requests and cancels (confirm mode: a request counts once confirmed).
  readonly publisher: ConfirmChannel
}

export function createRabbitUpstream(config: RabbitUpstreamConfig, { log, onDroppedReply }: UpstreamDeps): RabbitUpstream {
  const requestQueue = `${config.busPrefix}.requests`
  const replyQueue = `${config.busPrefix}.replies.${config.instanceId}`
  const cancelExchange = `${config.busPrefix}.cancel`

  const routes = new Map<string, Route>() // correlation id -> who waits
  const returned = new Set<string>() // ids the broker sent back unrouted
  const stopping = new AbortController() // aborted by close()
  const stopped = () => stopping.signal.aborted
  let link: Link | undefined
  let connecting: Promise<void> = Promise.resolve()

  function deliver(message: ConsumeMessage): void {
    const reply = replyOf(message)
    const route = routes.get(reply.id)
    if (!route) {
      onDroppedReply()
      log.debug({ correlation_id: reply.id }, 'dropped a reply nobody waits for')
      return
    }
    route.entry(reply)
  }

  function answerOf(reply: Reply): UpstreamAnswer {
    const status = Number(reply.status)
    if (reply.status === undefined || !Number.isInteger(status) || status < 200 || status > 599) {
      throw new UpstreamError('bad_response', 'the worker sent a malformed reply')
    }
    if (status >= 500 && status !== 504) {
      // A request the worker could not answer (a dead letter): 502, as over HTTP.
      throw new UpstreamError('server_error', `the worker answered ${status}`)
    }
    return { status, body: reply.body, contentType: status < 300 ? JSON_TYPE : PROBLEM_TYPE }
  }

  function send(op: string, { body, requestId, traceparent }: PredictCall, budgetMs: number, route: Route): { id: string; sent: Promise<void> } {
    if (stopped()) throw new UpstreamError('unavailable', 'the gateway is shutting down')
    if (!link) throw new UpstreamError('unavailable', 'RabbitMQ is not connected')
    const id = randomBytes(16).toString('hex')
    const { promise: sent, resolve, reject } = Promise.withResolvers<undefined>()
    routes.set(id, route)
    const headers = { op, request_id: requestId, deadline_ms: String(Date.now() + budgetMs), traceparent }
    const options = {
      mandatory: true, // no queue (no worker ever declared it): a return, not a silent drop
      persistent: true,
      correlationId: id,
      replyTo: replyQueue,
      contentType: JSON_TYPE,
      headers,
    }
    // The broker sends a return before its confirm: by the confirm, `returned` knows.
    const confirmed = (err: unknown) => {
      const wasReturned = returned.delete(id)
      if (err) reject(new UpstreamError('unavailable', 'RabbitMQ did not take the request', { cause: err }))
      else if (wasReturned) reject(new UpstreamError('unavailable', `no queue ${requestQueue}: no worker has declared it`))
      else resolve(undefined)
    }
    try {
      link.publisher.publish('', requestQueue, body, options, confirmed)
    } catch (err) {
      // The channel closed a moment ago: its close event is on its way.
      routes.delete(id)
      throw new UpstreamError('unavailable', 'RabbitMQ is not connected', { cause: err })
    }
    return { id, sent }
  }

  // One reply within the upstream budget, however long the broker takes to
  // confirm: the timer bounds the whole request.
  async function request(op: string, call: PredictCall): Promise<UpstreamAnswer> {
    const { promise, resolve, reject } = Promise.withResolvers<Reply>()
    const timer = setTimeout(() => {
      reject(new UpstreamError('timeout', `no reply from a worker within ${config.upstreamTimeoutMs} ms`))
    }, config.upstreamTimeoutMs)
    let id: string | undefined
    try {
      const sending = send(op, call, config.upstreamTimeoutMs, { entry: resolve, closed: reject })
      id = sending.id
      sending.sent.catch(reject) // unless answered, or timed out, already
      return answerOf(await promise)
    } finally {
      clearTimeout(timer)
      if (id !== undefined) routes.delete(id)
    }
  }

  // Cancels go out transient and not mandatory: a cancel nobody hears costs
  // a generation that runs to its end, nothing the client sees.
  function cancel(id: string): void {
    try {
      link?.publisher.publish(cancelExchange, '', Buffer.alloc(0), { correlationId: id }, () => {})
    } catch {
      // The channel closed a moment ago: nobody hears this cancel.
    }
  }

  // Opens the connection and its channels, declares what the gateway owns
  // and starts the one reply consumer.
  async function open(): Promise<Link> {
    const connection = await connect(withHeartbeat(config.rabbitmqUrl), {
      timeout: config.upstreamTimeoutMs, // a broker that never answers the TCP handshake
      clientProperties: { connection_name: `gateway:${config.instanceId}` },
    })
    const lost = (why: string) => () => drop(connection, why)
    try {
      connection.on('error', (err: Error) => log.warn({ err: scrub(err) }, 'RabbitMQ connection error'))
      connection.on('close', lost('the connection closed'))
      const publisher = await connection.createConfirmChannel()
      publisher.on('error', (err: Error) => log.warn({ err: scrub(err) }, 'RabbitMQ publishing channel error'))
      publisher.on('close', lost('the publishing channel closed'))
      publisher.on('return', (message: Message) => {
        returned.add(String(message.properties.correlationId ?? ''))
      })
      await publisher.assertExchange(cancelExchange, 'fanout', { durable: true })
      const consumer = await connection.createChannel()
      consumer.on('error', (err: Error) => log.warn({ err: scrub(err) }, 'RabbitMQ reply channel error'))
      consumer.on('close', lost('the reply channel closed'))
      await consumer.assertQueue(replyQueue, { exclusive: true, autoDelete: true, durable: false })
      await consumer.consume(replyQueue, (message) => {
        if (message) deliver(message)
        else drop(connection, 'the broker cancelled the reply consumer') // its queue was deleted
      }, { noAck: true, exclusive: true })
      return { connection, publisher }
    } catch (err) {
      await connection.close().catch(() => {})
      throw err
    }
  }

  // Connects, retrying with backoff until it succeeds or the gateway stops.
  async function connectLoop(): Promise<void> {
    for (let attempt = 0; !stopped(); attempt++) {
      try {
        const opened = await open()
        if (stopped()) {
          await opened.connection.close().catch(() => {})
          return
        }
        link = opened
        log.info({ reply_queue: replyQueue }, 'connected to RabbitMQ')
        return
      } catch (err) {
        const delay = backoff(attempt)
        // Each failure would repeat the first: log the first only.
        if (attempt === 0) log.warn({ err: scrub(err), retry_in_ms: delay }, 'connecting to RabbitMQ failed; retrying')
        await sleep(delay, undefined, { signal: stopping.signal }).catch(() => {})
      }
    }
  }

  // The connection of the current link broke (it, or one of its channels,
  // closed): forget it and connect again. Requests sent on it wait for their
  // deadline: a reply published once the reply queue is back still arrives.
  // An old connection's late events change nothing.
  function drop(connection: ChannelModel, why: string): void {
    if (link?.connection !== connection) return
    link = undefined
    if (stopped()) return
    log.warn({ reason: why }, 'lost the RabbitMQ connection; reconnecting')
    connection.close().catch(() => {})
    connecting = connectLoop()
  }

  return {
    requestQueue,
    replyQueue,
    cancelExchange,

    // Waits for the first connection, at most one connect timeout: a broker
    // that is not up yet leaves the gateway serving (502, /readyz 503)
    // while it keeps trying.
    async start() {
      connecting = connectLoop()
      await Promise.race([connecting, sleep(config.upstreamTimeoutMs, undefined, { ref: false })])
    },

    exchange: {
      request,
      send,
      unroute: (id) => routes.delete(id),
      answerOf,
      cancel,
    },

    // Resolves to the worker's reply; throws UpstreamError.
    predict(call: PredictCall): Promise<UpstreamAnswer> {
      return request('predict', call)
    },

    // Resolves when a request would be answered: connected, and the request
    // queue has a consumer. A passive declare of a missing queue closes its
    // channel, so it gets a channel of its own.
    async ready() {
      const connection = link?.connection
      if (!connection) throw new Error('RabbitMQ is not connected')
      const checked = (async () => {
        const channel = await connection.createChannel()
        channel.on('error', () => {}) // a missing queue: the rejection says so
        try {
          return await channel.checkQueue(requestQueue)
        } finally {
          channel.close().catch(() => {}) // already closed by the broker when the queue is missing
        }
      })()
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('RabbitMQ did not answer in time')), config.upstreamTimeoutMs)
      })
      try {
        const { consumerCount } = await Promise.race([checked, timeout])
        if (consumerCount < 1) throw new Error(`no ML worker consumes ${requestQueue}`)
      } finally {
        clearTimeout(timer)
      }
    },

    async close() {
      stopping.abort()
      for (const route of [...routes.values()]) {
        route.closed(new UpstreamError('unavailable', 'the gateway is shutting down'))
      }
      routes.clear()
      await connecting
      const closing = link
      link = undefined
      // Closing the connection deletes the exclusive reply queue.
      await closing?.connection.close().catch((err: unknown) => log.warn({ err: scrub(err) }, 'closing the RabbitMQ connection failed'))
    },
  }
}

// A message of the reply queue as a Reply; a header that is not text (the
// contract's are all UTF-8 text) counts as missing.
function replyOf(message: ConsumeMessage): Reply {
  const headers = message.properties.headers ?? {}
  const text = (name: string): string | undefined => {
    const value: unknown = headers[name]
    return typeof value === 'string' ? value : undefined
  }
  return {
    id: String(message.properties.correlationId ?? ''),
    ...optional('status', text('status')),
    ...optional('seq', text('seq')),
    ...optional('kind', text('kind')),
    body: message.content,
  }
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, string>)
}

// The URL with the gateway's AMQP heartbeat, unless it sets one itself.
function withHeartbeat(url: string): string {
  const parsed = new URL(url)
  if (!parsed.searchParams.has('heartbeat')) parsed.searchParams.set('heartbeat', String(HEARTBEAT_SECONDS))
  return parsed.toString()
}

// The delay before reconnect attempt `attempt` (0-based).
export function backoff(attempt: number): number {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** Math.min(attempt, 16))
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2))
}

// An error as it may be logged: amqplib's own never hold the URL, but an
// error is reduced to its message anyway so that nothing else it carries
// (a URL, a socket) reaches the log.
function scrub(err: unknown): { message: string; code?: string } {
  const { message, code } = err as { message?: unknown; code?: unknown }
  return { message: String(message ?? err), ...(typeof code === 'string' && { code }) }
}
