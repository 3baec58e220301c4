// What a test needs to get past the JWT check (test/helpers.ts exports it to
// every test): an identity provider's key set, served on 127.0.0.1 by this
// test process while it runs, the environment of a gateway that trusts it,
// and a token it accepts. A key pair for tests only, made here.
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { SignJWT, exportJWK, generateKeyPair } from 'jose'

const ISSUER = 'https://idp.test/'
const AUDIENCE = 'https://gateway.test'

const { publicKey, privateKey } = await generateKeyPair('ES256')
const keySet = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'tests', alg: 'ES256', use: 'sig' }] })
const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(keySet)
})
server.listen(0, '127.0.0.1')
await once(server, 'listening')
server.unref() // it serves while the tests run, and never keeps them running

export const AUTH_ENV: Readonly<Record<string, string>> = Object.freeze({
  GATEWAY_JWKS_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`,
  GATEWAY_JWT_ISSUER: ISSUER,
  GATEWAY_JWT_AUDIENCE: AUDIENCE,
})

const token = await new SignJWT()
  .setProtectedHeader({ alg: 'ES256', kid: 'tests' })
  .setIssuer(ISSUER)
  .setAudience(AUDIENCE)
  .setSubject('tests')
  .setIssuedAt()
  .setExpirationTime('2h')
  .sign(privateKey)

export const AUTH_HEADERS: Readonly<Record<string, string>> = Object.freeze({ authorization: `Bearer ${token}` })
