// The logger (pino, JSON lines on stdout), written so that logging can never
// stop the process. pino's own writer (sonic-boom) retries a write that
// finds the pipe full without limit, sleeping in between, and flushes that
// way again at exit: when the reader of stdout stops (Ctrl-C on `make dev`
// ends the log relays first), the gateway hung there until it was killed.
// Here each line is written at once; a line that finds the pipe full is
// dropped, and once the pipe is closed (EPIPE) nothing more is written.
import { writeSync } from 'node:fs'
import { type BaseLogger, type DestinationStream, type Logger, pino } from 'pino'
import type { LogLevel } from './config.ts'

export type { Logger } from 'pino'

// What the gateway's modules log with: a pino logger, or the one a
// framework wraps around it (Fastify's request.log).
export type Log = Pick<BaseLogger, 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'>

export function logDestination(fd = 1): DestinationStream {
  // Opening process.stdout makes a pipe on fd 1 non-blocking, so that a full
  // pipe answers EAGAIN at once instead of blocking the process for good.
  let open = fd !== 1 || process.stdout.writable
  return {
    write(line: string) {
      if (!open) return
      let bytes = Buffer.from(line)
      try {
        while (bytes.length > 0) bytes = bytes.subarray(writeSync(fd, bytes))
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') open = false // EPIPE, EBADF...: stdout is gone
      }
    },
  }
}

export function createLogger(level: LogLevel): Logger {
  return pino({ level }, logDestination())
}
