// Where the logs go: stdout, written so that logging can never stop the
// process. pino's own writer (sonic-boom) retries a write that finds the
// pipe full without limit, sleeping in between, and flushes that way again
// at exit: when the reader of stdout stops (Ctrl-C on `make dev` ends the
// log relays first), the gateway hung there until it was killed. Here each
// line is written at once; a line that finds the pipe full is dropped, and
// once the pipe is closed (EPIPE) nothing more is written.
import { writeSync } from 'node:fs'

export function logDestination(fd = 1) {
  // Opening process.stdout makes a pipe on fd 1 non-blocking, so that a full
  // pipe answers EAGAIN at once instead of blocking the process for good.
  if (fd === 1) void process.stdout
  let open = true
  return {
    write(line) {
      if (!open) return
      let bytes = Buffer.from(line)
      try {
        while (bytes.length > 0) bytes = bytes.subarray(writeSync(fd, bytes))
      } catch (err) {
        if (err.code !== 'EAGAIN') open = false // EPIPE, EBADF...: stdout is gone
      }
    },
  }
}
