// The event stream parser: the framings the HTML standard allows, split
// anywhere.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { MAX_LINE_BYTES, SseError, SseParser } from '../src/upstream/sse.ts'

// The data of every event in `chunks`, fed one after the other.
function parse(...chunks: (string | Buffer)[]): string[] {
  const events: string[] = []
  const parser = new SseParser((data) => events.push(data.toString('utf8')))
  for (const chunk of chunks) parser.push(Buffer.from(chunk))
  return events
}

// Every way of cutting `text` in two, and byte by byte.
function splits(text: string): Buffer[][] {
  const bytes = Buffer.from(text)
  const cuts: Buffer[][] = []
  for (let i = 0; i <= bytes.length; i++) cuts.push([bytes.subarray(0, i), bytes.subarray(i)])
  cuts.push([...bytes].map((byte) => Buffer.from([byte])))
  return cuts
}

describe('SseParser', () => {
  test('one event per blank line, with LF, CRLF or CR line ends', () => {
    for (const end of ['\n', '\r\n', '\r']) {
      assert.deepEqual(parse(`data: {"a":1}${end}${end}data: [DONE]${end}${end}`), ['{"a":1}', '[DONE]'], JSON.stringify(end))
    }
  })

  test('the same events however the bytes are split', () => {
    const text = '\uFEFF: ping\r\ndata: {"t":"é€😀"}\r\n\r\ndata:a\ndata: b\n\ndata: [DONE]\r\r'
    for (const chunks of splits(text)) {
      assert.deepEqual(parse(...chunks), ['{"t":"é€😀"}', 'a\nb', '[DONE]'])
    }
  })

  test('comments and other fields are ignored; an event without data is not one', () => {
    assert.deepEqual(parse(': keep-alive\n\nevent: x\nid: 7\nretry: 10\n\n: ping\ndata: y\n\n'), ['y'])
  })

  test('one leading space is taken off the value, no more; a bare "data" is an empty line', () => {
    assert.deepEqual(parse('data:  two\n\ndata\ndata\n\ndatax: no\n\n'), [' two', '\n'])
  })

  test('an event not ended by a blank line is never dispatched', () => {
    assert.deepEqual(parse('data: half'), [])
    assert.deepEqual(parse('data: half\n'), [])
  })

  test('a line that never ends is refused past MAX_LINE_BYTES', () => {
    const parser = new SseParser(() => {})
    parser.push(Buffer.from('data: '))
    assert.throws(() => parser.push(Buffer.alloc(MAX_LINE_BYTES, 'a')), SseError)
  })

  test('an event of many lines is refused past MAX_LINE_BYTES', () => {
    const parser = new SseParser(() => {})
    const line = `data: ${'a'.repeat(1024)}\n`
    assert.throws(() => parser.push(Buffer.from(line.repeat(MAX_LINE_BYTES / 1024 + 1))), SseError)
  })
})
