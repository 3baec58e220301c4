// What the gateway needs from its authentication, whichever it is: the auth
// component's src/auth/index.ts implements it (AuthConfig,
// loadAuthConfig(env), createAuthenticator(config)).
import type { IncomingHttpHeaders } from 'node:http'

export interface Authenticator {
  // The caller's name (logged; '' when callers have none), or throws an
  // HttpProblem 401 with its WWW-Authenticate header. Called on predict,
  // before anything else of the request is looked at.
  authenticate(headers: IncomingHttpHeaders): string
}
