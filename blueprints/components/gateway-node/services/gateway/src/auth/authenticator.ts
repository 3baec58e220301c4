// What the gateway needs from its authentication, whichever it is: the auth
// component's src/auth/index.ts implements it (AuthConfig,
// loadAuthConfig(env), createAuthenticator(config, log)).
import type { IncomingHttpHeaders } from 'node:http'
import type { Log } from '../log.ts'

export interface Authenticator {
  // The caller's name (logged; '' when callers have none), or throws an
  // HttpProblem: 401 with its WWW-Authenticate header, or 503 when it
  // cannot check credentials now. Called on predict, before anything else
  // of the request is looked at; log is the request's logger.
  authenticate(headers: IncomingHttpHeaders, log: Log): string | Promise<string>
  // For an authenticator that cannot check credentials until it has
  // fetched something (the JWT one: its identity provider's keys): resolves
  // once it can (it may fetch it), throws an HttpProblem 503 until then.
  // /readyz calls it: predictions would get that 503 too.
  ready?(): Promise<void>
}
