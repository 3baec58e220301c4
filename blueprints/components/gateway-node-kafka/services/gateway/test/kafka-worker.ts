// The Kafka tests' side of the bus (not a test file): a fake ML worker on a
// real broker (KAFKA_BOOTSTRAP_SERVERS). It reads the requests topic by
// direct assignment, every partition from its start (each test has topics
// of its own), and writes replies and stream entries to the partition a
// request names, as the real worker does.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { Admin, Consumer, Producer } from '@platformatic/kafka'
import { type Topics, topicsOf } from '../src/upstream/kafka.ts'

export const KAFKA_BOOTSTRAP_SERVERS = process.env.KAFKA_BOOTSTRAP_SERVERS ?? ''
export const BROKERS = KAFKA_BOOTSTRAP_SERVERS.split(',').filter((broker) => broker !== '')
export const MISSING_BROKER = 'KAFKA_BOOTSTRAP_SERVERS is not set: run `make test` at the repo root, which starts a throwaway Kafka broker, or set KAFKA_BOOTSTRAP_SERVERS'

// A record the worker read: its headers in order, key and value as text.
export interface Taken {
  readonly partition: number
  readonly names: string[]
  readonly headers: ReadonlyMap<string, string>
  readonly key: string
  readonly value: string
}

// A prefix of its own for a test.
export function testPrefix(): string {
  return `gateway-test-${randomBytes(4).toString('hex')}`
}

export class FakeWorker {
  readonly topics: Topics
  readonly #reader: Consumer
  readonly #producer: Producer
  readonly #admin: Admin
  readonly #offsets = new Map<string, bigint>() // "topic:partition" -> next offset
  readonly #members: Consumer[] = []

  constructor(prefix: string) {
    this.topics = topicsOf(prefix)
    const common = { bootstrapBrokers: BROKERS, retries: 2, retryDelay: 100 }
    this.#reader = new Consumer({ ...common, clientId: 'fake-worker', groupId: `${prefix}.fake-worker-unused` })
    this.#producer = new Producer({ ...common, clientId: 'fake-worker' })
    this.#admin = new Admin({ ...common, clientId: 'fake-worker' })
  }

  // Closed after the test; the test's topics are deleted.
  static create(t: TestContext, prefix = testPrefix()): FakeWorker {
    const worker = new FakeWorker(prefix)
    t.after(() => worker.close())
    return worker
  }

  get admin(): Admin {
    return this.#admin
  }

  // Takes `count` records of `topic` (default: the requests), waiting up
  // to 5 s for them.
  async take(count = 1, topic = this.topics.requests): Promise<Taken[]> {
    const taken: Taken[] = []
    const until = Date.now() + 5000
    while (taken.length < count && Date.now() < until) {
      taken.push(...(await this.#fetch(topic)))
    }
    assert.equal(taken.length, count, `records reached ${topic}`)
    return taken
  }

  // Everything on `topic` now (after a short wait).
  async drain(topic: string): Promise<Taken[]> {
    return this.#fetch(topic)
  }

  // An ordinary reply to `request`: headers id and status, value the body.
  async reply(request: Taken, status: number | string, body: string | undefined): Promise<void> {
    await this.send(request, [['id', request.headers.get('id') ?? ''], ['status', String(status)]], body)
  }

  // Stream entries: [seq, kind, data] each, in order.
  async write(request: Taken, ...entries: [number, string, string][]): Promise<void> {
    for (const [seq, kind, data] of entries) {
      await this.send(request, [['id', request.headers.get('id') ?? ''], ['seq', String(seq)], ['kind', kind]], data)
    }
  }

  // A record on the replies topic, in the partition `request` names.
  async send(request: Taken, headers: [string, string][], value: string | undefined): Promise<void> {
    await this.sendTo(Number(request.headers.get('reply_partition')), headers, value, request.headers.get('id'))
  }

  async sendTo(partition: number, headers: [string, string][], value: string | undefined, key?: string): Promise<void> {
    await this.#producer.send({
      messages: [{
        topic: this.topics.replies,
        partition,
        ...(key === undefined ? {} : { key: Buffer.from(key) }),
        ...(value === undefined ? {} : { value: Buffer.from(value) }),
        headers: new Map(headers.map(([name, text]) => [Buffer.from(name), Buffer.from(text)])),
      }],
    })
  }

  // A member of the workers' group, as a live worker is, until the returned
  // function is called.
  async join(): Promise<() => Promise<void>> {
    const member = new Consumer({
      bootstrapBrokers: BROKERS,
      clientId: 'fake-worker-member',
      groupId: this.topics.group,
      sessionTimeout: 6000,
      heartbeatInterval: 500,
    })
    this.#members.push(member)
    const stream = await member.consume({ topics: [this.topics.requests], mode: 'latest' })
    return async () => {
      await stream.close()
      await member.close()
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.#members.map((member) => member.close(true)))
    const topics = [this.topics.requests, this.topics.replies, this.topics.cancel]
    await this.#admin.deleteTopics({ topics }).catch(() => {})
    await Promise.allSettled([this.#reader.close(true), this.#producer.close(true), this.#admin.close()])
  }

  async #fetch(topic: string): Promise<Taken[]> {
    const metadata = await this.#reader.metadata({ topics: [topic], forceUpdate: true }).catch(() => undefined)
    const meta = metadata?.topics.get(topic)
    if (!meta) {
      await sleep(50) // not created yet
      return []
    }
    const taken: Taken[] = []
    for (let partition = 0; partition < meta.partitionsCount; partition++) {
      const key = `${topic}:${partition}`
      const response = await this.#reader.fetch({
        node: meta.partitions[partition]?.leader ?? 0,
        maxWaitTime: 20,
        topics: [{
          topicId: meta.id,
          partitions: [{ partition, fetchOffset: this.#offsets.get(key) ?? 0n, currentLeaderEpoch: -1, lastFetchedEpoch: -1, partitionMaxBytes: 1 << 20 }],
        }],
      })
      for (const part of response.responses.flatMap((r) => r.partitions)) {
        for (const batch of part.records ?? []) {
          for (const record of batch.records) {
            const names = record.headers.map(([name]) => name?.toString() ?? '')
            taken.push({
              partition,
              names,
              headers: new Map(record.headers.map(([name, value]) => [name?.toString() ?? '', value?.toString() ?? ''])),
              key: record.key?.toString() ?? '',
              value: record.value?.toString() ?? '',
            })
          }
          this.#offsets.set(key, batch.firstOffset + BigInt(batch.lastOffsetDelta) + 1n)
        }
      }
    }
    return taken
  }
}
