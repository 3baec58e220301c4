"""braid's end-to-end harness (Python 3.11 standard library only).

Modules: `report` (check lines, counts, timings), `procs` (child processes
that never outlive the harness, commands with timeouts, free ports),
`httpc` (one HTTP request with a client timeout), `redisc` (redis-cli
--json), `contract` (the gateway contract cases and their expectations),
`combo` (one gateway x transport combination, phase by phase), `streams`
(the Redis Streams crash and poison tests), `slowserver` (an upstream that
answers too late), `rootdocs_checks` (README, openapi.yaml, .env.example and
compose held to the running stack).
"""
