// The gateway's authentication: none (auth = none), anyone who reaches the
// gateway may predict. config.ts and app.ts import this fixed interface
// (every auth mode has one): AuthConfig, loadAuthConfig, createAuthenticator.
import type { Env } from '../env.ts'
import type { Log } from '../log.ts'
import type { Authenticator } from './authenticator.ts'

// Nothing to configure but the mode itself.
export interface AuthConfig {
  readonly authMode: 'none'
}

export function loadAuthConfig(_env: Env): AuthConfig {
  return { authMode: 'none' }
}

export function createAuthenticator(_config: AuthConfig, _log: Log): Authenticator {
  return { authenticate: () => '' }
}
