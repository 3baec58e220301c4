// A parser of text/event-stream bodies (the HTML standard's "Server-sent
// events", interpreting an event stream), for the `data` field only: the ML
// service's events carry nothing else the gateway uses. It works on bytes,
// so a multi-byte character split between two chunks is never decoded
// half, and the data's bytes are relayed as they came.

const LF = 0x0a
const CR = 0x0d
const COLON = 0x3a
const SPACE = 0x20
const BOM = Buffer.from([0xef, 0xbb, 0xbf])
const DATA = Buffer.from('data')

// The longest line the parser keeps while it waits for the line's end: an
// upstream that never ends a line cannot make the gateway buffer without bound.
export const MAX_LINE_BYTES = 1 << 20

export class SseError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SseError'
  }
}

export class SseParser {
  readonly #onData: (data: Buffer) => void
  #pending: Buffer = Buffer.alloc(0)
  // The data lines of the event being read; undefined: none yet.
  #data: Buffer[] | undefined
  #size = 0 // the bytes in #data
  #atStart = true
  // The last chunk ended with CR: a LF opening the next one ends no line.
  #afterCr = false

  // `onData(data)` is called once per event that has a data field, with the
  // data lines joined by LF (as EventSource's MessageEvent.data).
  constructor(onData: (data: Buffer) => void) {
    this.#onData = onData
  }

  // Parses the next bytes of the body; throws SseError on a line over
  // MAX_LINE_BYTES.
  push(chunk: Buffer): void {
    let bytes = this.#pending.length > 0 ? Buffer.concat([this.#pending, chunk]) : chunk
    if (this.#afterCr && bytes[0] === LF) bytes = bytes.subarray(1)
    this.#afterCr = false
    if (this.#atStart) {
      // A BOM may open the stream; wait until three bytes show whether it does.
      if (bytes.length < BOM.length && BOM.subarray(0, bytes.length).equals(bytes)) {
        this.#pending = bytes
        return
      }
      this.#atStart = false
      if (bytes.subarray(0, BOM.length).equals(BOM)) bytes = bytes.subarray(BOM.length)
    }
    let start = 0
    for (let i = 0; i < bytes.length; i++) {
      const byte = bytes[i]
      if (byte !== LF && byte !== CR) continue
      this.#line(bytes.subarray(start, i))
      if (byte === CR) {
        if (i + 1 === bytes.length) this.#afterCr = true
        else if (bytes[i + 1] === LF) i++
      }
      start = i + 1
    }
    // Copied: the rest must not keep the whole chunk alive.
    this.#pending = Buffer.from(bytes.subarray(start))
    if (this.#pending.length > MAX_LINE_BYTES) throw new SseError(`an event stream line is longer than ${MAX_LINE_BYTES} bytes`)
  }

  #line(line: Buffer): void {
    if (line.length === 0) {
      this.#dispatch()
      return
    }
    if (line[0] === COLON) return // a comment (a keep-alive)
    const colon = line.indexOf(COLON)
    const name = colon === -1 ? line : line.subarray(0, colon)
    if (!name.equals(DATA)) return // event, id, retry: nothing the gateway uses
    let value = colon === -1 ? Buffer.alloc(0) : line.subarray(colon + 1)
    if (value[0] === SPACE) value = value.subarray(1)
    this.#data ??= []
    this.#data.push(Buffer.from(value))
    this.#size += value.length
    if (this.#size > MAX_LINE_BYTES) throw new SseError(`an event is longer than ${MAX_LINE_BYTES} bytes`)
  }

  #dispatch(): void {
    const data = this.#data
    this.#data = undefined
    this.#size = 0
    if (data === undefined) return
    const joined: Buffer[] = []
    for (const [i, line] of data.entries()) {
      if (i > 0) joined.push(Buffer.from([LF]))
      joined.push(line)
    }
    this.#onData(Buffer.concat(joined))
  }
}
