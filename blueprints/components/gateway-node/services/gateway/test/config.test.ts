import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ConfigError, loadConfig } from '../src/config.ts'

test('defaults follow the contract', () => {
  const config = loadConfig({})
  assert.equal(config.host, '0.0.0.0')
  assert.equal(config.upstreamTimeoutMs, 5000)
  assert.equal(config.maxBodyBytes, 1048576)
  assert.equal(config.shutdownTimeoutMs, 10000)
  assert.equal(config.logLevel, 'info')
  assert.ok(Number.isInteger(config.port))
  assert.equal(config.metricsHost, '127.0.0.1')
  assert.equal(config.metricsPort, 9090)
  assert.equal(config.maxInflight, 256)
  assert.equal(config.maxRows, 256)
  assert.equal(config.drainDelayMs, 0)
  assert.equal(config.traceSampled, false)
})

test('timeouts up to 2^31-1 ms (the longest Node.js timer) are accepted', () => {
  const config = loadConfig({
    GATEWAY_UPSTREAM_TIMEOUT_MS: '2147483647',
    GATEWAY_SHUTDOWN_TIMEOUT_MS: '2147483647',
    GATEWAY_DRAIN_DELAY_MS: '2147483647',
  })
  assert.equal(config.upstreamTimeoutMs, 2147483647)
  assert.equal(config.shutdownTimeoutMs, 2147483647)
  assert.equal(config.drainDelayMs, 2147483647)
})

test('LOG_LEVEL takes the Python names too', () => {
  assert.equal(loadConfig({ LOG_LEVEL: 'WARNING' }).logLevel, 'warn')
  assert.equal(loadConfig({ LOG_LEVEL: 'critical' }).logLevel, 'fatal')
})

test('GATEWAY_TRACE_SAMPLED takes true/false, 1/0, yes/no, on/off', () => {
  for (const [value, want] of [['TRUE', true], ['1', true], ['yes', true], ['on', true], ['false', false], ['0', false], ['No', false], ['off', false]] as const) {
    assert.equal(loadConfig({ GATEWAY_TRACE_SAMPLED: value }).traceSampled, want, value)
  }
})

test('an invalid URL is named without its password', () => {
  assert.throws(() => loadConfig({ GATEWAY_PORT: 'redis://user:s3cr3t-pass@host:6379/0' }), (err) => {
    assert.ok(err instanceof ConfigError)
    assert.equal(err.variable, 'GATEWAY_PORT')
    assert.doesNotMatch(err.message, /s3cr3t/)
    assert.match(err.message, /redis:\/\/user:xxxxx@host:6379\/0/)
    return true
  })
})

test('values come from the environment; empty counts as unset', () => {
  const config = loadConfig({ GATEWAY_PORT: '9000', GATEWAY_UPSTREAM_TIMEOUT_MS: '250', LOG_LEVEL: 'DEBUG', GATEWAY_HOST: '' })
  assert.equal(config.port, 9000)
  assert.equal(config.upstreamTimeoutMs, 250)
  assert.equal(config.logLevel, 'debug')
  assert.equal(config.host, '0.0.0.0')
})

for (const [name, value] of [
  ['GATEWAY_PORT', 'http'],
  ['GATEWAY_PORT', '0'],
  ['GATEWAY_PORT', '65536'],
  ['GATEWAY_PORT', '80.5'],
  ['GATEWAY_UPSTREAM_TIMEOUT_MS', '-1'],
  ['GATEWAY_UPSTREAM_TIMEOUT_MS', '0'],
  ['GATEWAY_MAX_BODY_BYTES', '1e6'],
  ['GATEWAY_SHUTDOWN_TIMEOUT_MS', 'soon'],
  // Timer overflow: past 2^31-1 ms, Node.js fires a timer at once (every
  // request 504s, shutdown skips the drain).
  ['GATEWAY_UPSTREAM_TIMEOUT_MS', '3000000000'],
  ['GATEWAY_UPSTREAM_TIMEOUT_MS', '2147483648'],
  ['GATEWAY_SHUTDOWN_TIMEOUT_MS', '3000000000'],
  ['GATEWAY_SHUTDOWN_TIMEOUT_MS', '0'],
  ['GATEWAY_DRAIN_DELAY_MS', '2147483648'],
  ['GATEWAY_DRAIN_DELAY_MS', '-1'],
  ['GATEWAY_MAX_BODY_BYTES', '0'],
  ['GATEWAY_MAX_BODY_BYTES', '99999999999999999999'],
  ['GATEWAY_MAX_INFLIGHT', '0'],
  ['GATEWAY_MAX_INFLIGHT', '2147483648'],
  ['ML_MAX_BATCH', '0'],
  ['ML_MAX_BATCH', 'many'],
  ['GATEWAY_METRICS_HOST', 'local host'],
  ['GATEWAY_METRICS_PORT', '0'],
  ['GATEWAY_METRICS_PORT', '70000'],
  ['GATEWAY_TRACE_SAMPLED', 'maybe'],
  ['LOG_LEVEL', 'constructor'],
  ['GATEWAY_HOST', 'two words'],
  ['LOG_LEVEL', 'loud'],
] as const) {
  test(`${name}=${value} is refused with the variable named`, () => {
    assert.throws(() => loadConfig({ [name]: value }), (err) => {
      assert.ok(err instanceof ConfigError)
      assert.equal(err.variable, name)
      assert.match(err.message, new RegExp(`^${name}=`))
      return true
    })
  })
}

test('GATEWAY_METRICS_PORT must differ from GATEWAY_PORT', () => {
  assert.throws(() => loadConfig({ GATEWAY_PORT: '9000', GATEWAY_METRICS_PORT: '9000' }), (err) => err instanceof ConfigError && err.variable === 'GATEWAY_METRICS_PORT')
})
