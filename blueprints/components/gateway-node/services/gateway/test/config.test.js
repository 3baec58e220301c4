import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ConfigError, loadConfig } from '../src/config.js'

test('defaults follow the contract', () => {
  const config = loadConfig({})
  assert.equal(config.host, '0.0.0.0')
  assert.equal(config.upstreamTimeoutMs, 5000)
  assert.equal(config.maxBodyBytes, 1048576)
  assert.equal(config.shutdownTimeoutMs, 10000)
  assert.equal(config.logLevel, 'info')
  assert.ok(Number.isInteger(config.port))
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
  ['GATEWAY_HOST', 'two words'],
  ['LOG_LEVEL', 'loud'],
]) {
  test(`${name}=${value} is refused with the variable named`, () => {
    assert.throws(() => loadConfig({ [name]: value }), (err) => {
      assert.ok(err instanceof ConfigError)
      assert.equal(err.variable, name)
      assert.match(err.message, new RegExp(`^${name}=`))
      return true
    })
  })
}
