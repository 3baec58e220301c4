"""The regeneration scenario: a repo generated as go/http, edited by hand,
then switched in braid.toml through every transport (http -> redis-streams ->
kafka -> http -> rabbitmq), each time brought along by `braid regen` with the
hand edits kept, must pass the whole go/rabbitmq harness with the hand edits
present. The switches in between are cheap (regen, the edits, no conflict);
the full phases run once, on the last transport.

The hand edits are the ones a team makes in its first week: a route added to
the gateway (a line in a braid-managed file plus new files of its own, with a
test) and a paragraph in the README. After the regen the route must still
answer through the running gateway, which by then talks to the ML workers
over RabbitMQ.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from .combo import Combo, Context
from .httpc import request
from .procs import must
from .report import expect

SERVER_GO = "services/gateway/internal/httpapi/server.go"
ROUTE_ANCHOR = '\ts.route("GET /readyz", s.readyz)\n'
ROUTE_LINE = '\ts.route("GET /v1/hello", s.hello)\n'
HELLO_BODY = '{"hello":"kept by braid regen"}\n'

README_ANCHOR = "## Configuration\n"
README_PARAGRAPH = (
    "## Team notes\n\n"
    "Written by hand after `braid new`: the ML platform team is on call for this\n"
    "service; page them before retraining the model in production.\n\n"
)


def _go_string(text: str) -> str:
    """`text` as a Go interpreted string literal (ASCII, no escapes needed but \\n)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


HELLO_GO = (
    "package httpapi\n\n"
    "// A route added by hand after `braid new`; braid never wrote this file.\n\n"
    'import "net/http"\n\n'
    "func (s *Server) hello(w http.ResponseWriter, r *http.Request) {\n"
    '\tw.Header().Set("Content-Type", "application/json")\n'
    f"\t_, _ = w.Write([]byte({_go_string(HELLO_BODY)}))\n"
    "}\n"
)
HELLO_TEST_GO = (
    "package httpapi\n\n"
    "import (\n"
    '\t"net/http"\n'
    '\t"testing"\n'
    ")\n\n"
    "func TestHello(t *testing.T) {\n"
    '\trec := do(newServer(&fakeUpstream{}), http.MethodGet, "/v1/hello", "", "")\n'
    f"\tif rec.Code != http.StatusOK || rec.Body.String() != {_go_string(HELLO_BODY)} {{\n"
    '\t\tt.Fatalf("GET /v1/hello = %d %q", rec.Code, rec.Body.String())\n'
    "\t}\n"
    "}\n"
)
# The transports the repo goes through after `braid new --transport http`,
# and the word its README names each by (None: http).
STEPS = ("redis-streams", "kafka", "http", "rabbitmq")
README_WORD = {"redis-streams": "Redis Streams", "kafka": "Kafka", "rabbitmq": "RabbitMQ"}

USER_FILES = {
    "services/gateway/internal/httpapi/hello.go": HELLO_GO,
    "services/gateway/internal/httpapi/hello_test.go": HELLO_TEST_GO,
}


def snapshot(root: Path) -> dict[str, str]:
    """Every file under root (but .braid/) by sha256."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".braid" not in p.relative_to(root).parts
    }


class RegenCombo(Combo):
    """go/http -> hand edits -> transport through STEPS, braid regen each time
    -> every phase of the go/rabbitmq harness, plus the hand-added route."""

    NAME = "regen-go-transports"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx, "go", STEPS[-1], name=self.NAME, project="e2e-regen")

    def generate(self) -> bool:
        if not (
            self.braid_new("http")
            and self.check("hand edits: a gateway route and a README paragraph", self.hand_edit)
        ):
            return False
        current = "http"
        for step in STEPS:
            if not (
                self.check(
                    f'braid.toml: transport = "{current}" -> "{step}"',
                    self.switch_transport,
                    current,
                    step,
                )
                and self.check(
                    f"braid regen to {step}: exit 0, files merged / created / deleted",
                    self.regen,
                    current,
                    step,
                )
                and self.check(f"hand edits survive the regen to {step}", self.edits_kept, step)
            ):
                return False
            current = step
        return (
            self.check("braid regen again changes nothing (diff exit 0)", self.idempotent)
            and self.check("braid check: in sync; --strict names the hand edits", self.check_cmd)
            and self.inspect()
        )

    def hand_edit(self) -> None:
        server = self.repo / SERVER_GO
        text = server.read_text()
        expect(
            text.count(ROUTE_ANCHOR) == 1, f"{SERVER_GO}: anchor {ROUTE_ANCHOR!r} not found once"
        )
        server.write_text(text.replace(ROUTE_ANCHOR, ROUTE_ANCHOR + ROUTE_LINE))
        for rel, body in USER_FILES.items():
            (self.repo / rel).write_text(body)
        readme = self.repo / "README.md"
        text = readme.read_text()
        expect(text.count(README_ANCHOR) == 1, f"README.md: {README_ANCHOR!r} not found once")
        readme.write_text(text.replace(README_ANCHOR, README_PARAGRAPH + README_ANCHOR))
        # The edited http repo still builds and its tests (the new one too) pass.
        must(self.run(["go", "vet", "./..."], self.gw, timeout=300))
        return must(
            self.run(
                ["go", "test", "-run", "TestHello", "./internal/httpapi/"], self.gw, timeout=300
            )
        )

    def switch_transport(self, old: str, new: str) -> None:
        path = self.repo / "braid.toml"
        text = path.read_text()
        changed, n = re.subn(
            rf'^transport = "{old}"$', f'transport = "{new}"', text, flags=re.MULTILINE
        )
        expect(n == 1, f'braid.toml: no single `transport = "{old}"` line:\n{text}')
        path.write_text(changed)

    def regen(self, old: str, new: str) -> str:
        res = self.run([self.ctx.braid, "regen", self.repo], self.root, timeout=120)
        must(res)
        out = res.output
        expect("Conflict" not in out, f"regen reported a conflict:\n{out}")
        if (old, new) != ("http", "redis-streams"):
            return res.output.strip().splitlines()[-1].strip()
        # http -> redis-streams, file by file (the first step)
        for verb, path in (
            ("Merged", "README.md"),
            ("Kept edits", SERVER_GO),
            ("Created", "services/gateway/internal/streams/streams.go"),
            ("Created", "services/gateway/internal/config/upstream_streams.go"),
            ("Deleted", "services/gateway/internal/mlclient/client.go"),
            ("Updated", "docker-compose.yml"),
        ):
            expect(
                re.search(rf"^\s*{verb}\s+{re.escape(path)}\b", out, re.MULTILINE),
                f"regen did not report `{verb} {path}`:\n{out}",
            )
        expect("Conflict" not in out, f"regen reported a conflict:\n{out}")
        return res.output.strip().splitlines()[-1].strip()

    def edits_kept(self, transport: str) -> None:
        server = (self.repo / SERVER_GO).read_text()
        expect(ROUTE_ANCHOR + ROUTE_LINE in server, f"{SERVER_GO}: the hand-added route is gone")
        for rel, body in USER_FILES.items():
            expect((self.repo / rel).read_text() == body, f"{rel}: changed by regen")
        readme = (self.repo / "README.md").read_text()
        expect(README_PARAGRAPH + README_ANCHOR in readme, "README.md: the hand paragraph is gone")
        word = README_WORD.get(transport)
        expect(word is None or word in readme, f"README.md: not re-rendered for {transport}")
        markers = [
            rel
            for rel in snapshot(self.repo)
            if re.search(rb"^(<<<<<<<|>>>>>>>) ", (self.repo / rel).read_bytes(), re.MULTILINE)
        ]
        expect(not markers, f"conflict markers in {markers}")
        gone = self.gw / "internal" / "mlclient" / "client.go"
        if transport != "http":
            expect(not gone.exists(), f"{gone} (http transport only) still there")

    def idempotent(self) -> None:
        must(self.run([self.ctx.braid, "diff", self.repo], self.root, timeout=60))
        before = snapshot(self.repo)
        must(self.run([self.ctx.braid, "regen", self.repo], self.root, timeout=60))
        after = snapshot(self.repo)
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        expect(not changed, f"a second regen changed {changed}")

    def check_cmd(self) -> None:
        res = self.run([self.ctx.braid, "check", self.repo], self.root, timeout=60)
        must(res)
        for rel in ("README.md", SERVER_GO):
            expect(
                rel in res.output,
                f"braid check does not list the hand edit in {rel}:\n{res.output}",
            )
        strict = self.run([self.ctx.braid, "check", "--strict", self.repo], self.root, timeout=60)
        expect(
            strict.rc == 1, f"braid check --strict: exit {strict.rc}, expected 1\n{strict.output}"
        )

    def start(self) -> bool:
        ok = super().start()
        if ok:

            def hello():
                base = self.gateways["main"][1]
                r = request("GET", base, "/v1/hello", None, {"X-Request-ID": "regen-hello-1"})
                expect(r.status == 200, f"GET /v1/hello -> {r.short()}")
                expect(r.body.decode() == HELLO_BODY, f"GET /v1/hello body {r.body!r}")
                got = r.headers.get("x-request-id")
                expect(got == "regen-hello-1", f"X-Request-ID {got!r}")

            ok = self.check("hand-added GET /v1/hello answers through the gateway", hello)
        return ok
