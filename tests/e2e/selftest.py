#!/usr/bin/env python3
"""Unit checks of the harness itself, on fakes (no braid, no generated repo).

python3 tests/e2e/selftest.py        (unittest; needs redis-server for two tests)
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from fakes.fake_services import fake_gateway, fake_ml  # noqa: E402
from harness import chat, contract, k8s_checks, procs, ratelimit, streams  # noqa: E402
from harness.combo import Combo  # noqa: E402
from harness.httpc import Resp, request  # noqa: E402
from harness.redisc import start_redis  # noqa: E402
from harness.report import CheckFailed, Reporter  # noqa: E402
from harness.slowserver import SlowServer  # noqa: E402


def quiet() -> Reporter:
    return Reporter(out=io.StringIO())


class ContractSuiteOnFakes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ml = fake_ml()
        cls.slow = SlowServer(delay=contract.SLOW_TIMEOUT_MS / 1000 + 2).__enter__()
        cls.err = SlowServer(delay=0, status=500).__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.ml.close()
        cls.slow.__exit__(None, None, None)
        cls.err.__exit__(None, None, None)

    def suite(self, deviation=None):
        gws = [
            fake_gateway(self.ml.url, max_body=contract.MAX_BODY, deviation=deviation),
            fake_gateway(f"http://127.0.0.1:{procs.closed_port()}"),
            fake_gateway(self.slow.url, timeout_ms=contract.SLOW_TIMEOUT_MS),
            fake_gateway(self.err.url),
            fake_gateway(self.ml.url, metrics_listener=True),
        ]
        try:
            names = ["main", "down", "slow", "err500", "metrics"]
            bases = dict(zip(names, [g.url for g in gws], strict=True))
            rep, records = quiet(), {}
            contract.run_cases(rep, "fake", "http", bases, records)
            return rep, records
        finally:
            for g in gws:
                g.close()

    def test_faithful_fake_passes_every_case(self):
        rep, records = self.suite()
        self.assertEqual(rep.failed, 0, rep.out.getvalue())
        applies = [c for c in contract.cases() if "http" in c.transports and "api-key" in c.auths]
        self.assertEqual(len(records), len(applies))

    def test_deviations_fail_and_parity_sees_them(self):
        rep_ok, rec_ok = self.suite()
        rep_bad, rec_bad = self.suite("charset")
        failed = [n for n, _ in rep_bad.failures]
        self.assertIn("fake contract predict", failed)
        self.assertIn(
            "Content-Type 'application/json; charset=utf-8'",
            dict(rep_bad.failures)["fake contract predict"],
        )
        diffs = contract.diff(rec_ok["predict"], rec_bad["predict"])
        self.assertEqual(len(diffs), 1, diffs)
        self.assertTrue(diffs[0].startswith("content-type:"))
        # problem bodies compare without `detail`, with request ids abstracted
        self.assertEqual(rec_ok["malformed-json"], rec_bad["malformed-json"])
        self.assertEqual(rec_ok["malformed-json"]["body"]["request_id"], "same-as-header")
        rep_allow, _ = self.suite("allow")
        self.assertIn(
            "Allow 'GET, POST', contract says 'POST'",
            dict(rep_allow.failures)["fake contract wrong-method-get"],
        )

    def test_slow_upstream_is_504_in_time_and_headers_forwarded(self):
        gw = fake_gateway(self.slow.url, timeout_ms=contract.SLOW_TIMEOUT_MS)
        try:
            case = next(c for c in contract.cases() if c.name == "upstream-slow")
            r = contract.send(case, gw.url)
            contract.check(case, r)
            seen = self.slow.seen[-1]["headers"]
            self.assertEqual(seen["x-request-id"], "e2e-upstream-slow")
            self.assertRegex(seen["traceparent"], r"^00-[0-9a-f]{32}-[0-9a-f]{16}-01$")
        finally:
            gw.close()


class Normalize(unittest.TestCase):
    def test_detail_ignored_and_rid_kinds(self):
        case = next(c for c in contract.cases() if c.name == "malformed-json-no-request-id")

        def resp(rid, detail):
            body = {
                "type": "about:blank",
                "title": "Bad Request",
                "status": 400,
                "detail": detail,
                "instance": "/v1/predict",
                "request_id": rid,
            }
            return Resp(
                400,
                {"x-request-id": rid, "content-type": contract.PROBLEM},
                json.dumps(body).encode(),
                0.01,
            )

        a = contract.normalize(case, resp("a" * 32, "one"))
        b = contract.normalize(case, resp("b" * 32, "another"))
        self.assertEqual(a, b)
        self.assertEqual(a["x-request-id"], "generated-32-hex")
        self.assertEqual(a["body"]["request_id"], "same-as-header")
        c = contract.normalize(case, resp("c" * 32, "x"))
        c["body"]["title"] = "Bad request"
        self.assertEqual(
            contract.diff(a, c),
            [
                'body: go={"instance": "/v1/predict", '
                '"request_id": "same-as-header", "status": 400, '
                '"title": "Bad Request", "type": "about:blank"} '
                'node={"instance": "/v1/predict", "request_id": '
                '"same-as-header", "status": 400, "title": '
                '"Bad request", "type": "about:blank"}'
            ],
        )


class ParityOfPredictions(unittest.TestCase):
    def test_parity_allows_a_batched_products_last_bits(self):
        # The bug: parity failed on `predict-integers` when the ML service
        # batched it with the idle-pause check's request (the same model,
        # 0.03808120910662387 against ...874 for one row alone).
        go = {"status": 200, "body": {"predictions": [{"p": 0.038081209106623874, "id": 0}]}}
        node = {"status": 200, "body": {"predictions": [{"p": 0.03808120910662387, "id": 0}]}}
        self.assertTrue(contract.same(go, node))
        self.assertEqual(contract.diff(go, node), [])
        # beyond the tolerance, another type, another key: not the same
        for other in (
            {"status": 200, "body": {"predictions": [{"p": 0.0380812, "id": 0}]}},
            {"status": 200, "body": {"predictions": [{"p": 0.038081209106623874, "id": 0.0}]}},
            {"status": 200, "body": {"predictions": [{"p": 0.038081209106623874}]}},
            {"status": 200.0, "body": go["body"]},
        ):
            self.assertFalse(contract.same(go, other), other)
            self.assertEqual(len(contract.diff(go, other)), 1, other)


class Reporting(unittest.TestCase):
    def test_counts_final_line_and_table(self):
        out = io.StringIO()
        rep = Reporter(out=out)
        with rep.phase("go-http", "install"):
            rep.check("a", lambda: "fine")
        with rep.phase("go-http", "lint"):
            rep.check("b", lambda: (_ for _ in ()).throw(CheckFailed("nope")))
            rep.check("c", lambda: 1 / 0)
        with rep.phase("node-http", "install"):
            pass
        rep.summary(1.0)
        text = out.getvalue()
        self.assertTrue(text.rstrip().endswith("\n1 passed, 2 failed"), text)
        self.assertIn("FAIL b\n    nope", text)
        self.assertIn("ZeroDivisionError", text)
        table = rep.timing_table().splitlines()
        self.assertIn("go-http", table[0])
        self.assertIn("node-http", table[0])
        self.assertTrue(any(line.startswith("lint") and "!" in line for line in table))
        self.assertTrue(
            any(line.startswith("install") and line.rstrip().endswith("s") for line in table)
        )

    def test_the_slowest_checks_are_listed_slowest_first(self):
        out = io.StringIO()
        rep = Reporter(out=out)
        rep.check("quick", lambda: None)
        rep.check("slow", lambda: time.sleep(0.05))
        rep.check("slow and failed", lambda: time.sleep(0.1) or 1 / 0)
        rep.summary(1.0)
        text = out.getvalue()
        listed = text[text.index("slowest checks (of 3)") :].splitlines()[1:4]
        self.assertEqual(
            [x.split("s  ", 1)[1] for x in listed], ["slow and failed", "slow", "quick"]
        )

    def test_redis_skip_detection(self):
        pytest_out = "SKIPPED [2] tests/test_worker.py:12: REDIS_URL not set\n3 passed"
        go_out = "=== RUN   TestStreams\n--- SKIP: TestStreams (0.00s)\n    x_test.go:9: no Redis\n"
        node_out = "ok 3 - streams # SKIP set REDIS_URL to run\n"
        for text in (pytest_out, go_out, node_out):
            self.assertTrue(Combo._redis_skips(text), text)
        self.assertFalse(Combo._redis_skips("--- SKIP: TestWindows (0.00s)\n    not on linux\n"))


class Processes(unittest.TestCase):
    def test_timeout_kills_the_whole_group(self):
        t0 = time.monotonic()
        res = procs.run(["bash", "-c", "sleep 30 & sleep 30; echo never"], Path("/"), {}, 0.5)
        self.assertIsNone(res.rc)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertIn("timed out", res.describe())

    def test_kill_all_stops_started_processes(self):
        with tempfile.TemporaryDirectory() as d:
            p = procs.Procs(Path(d)).start(
                "sleeper", ["bash", "-c", "sleep 60 & sleep 60"], Path(d), {"PATH": "/usr/bin:/bin"}
            )
            self.assertTrue(p.alive())
            procs.kill_all()
            self.assertFalse(p.alive())

    def test_wait_until_reports_exit_with_log(self):
        with tempfile.TemporaryDirectory() as d:
            p = procs.Procs(Path(d)).start(
                "dies", ["bash", "-c", "echo boom; exit 3"], Path(d), {"PATH": "/usr/bin:/bin"}
            )
            with self.assertRaises(CheckFailed) as e:
                procs.wait_until(lambda: False, timeout=10, what="x", proc=p)
            self.assertIn("boom", str(e.exception))
            self.assertIn("exited with 3", str(e.exception))

    def test_free_ports_are_outside_the_ephemeral_range_and_never_handed_out_twice(self):
        # An outgoing connection may take any port of the ephemeral range as its
        # local port before the service meant to listen there binds it.
        low, high = procs._ephemeral_range()
        ports = [procs.free_port() for _ in range(50)]
        self.assertEqual(len(set(ports)), len(ports))
        for port in ports:
            self.assertFalse(low <= port <= high, f"{port} is in {low}-{high}")
        self.assertFalse(procs.claim_port(ports[0]), "a port handed out twice")

    def test_oversized_body_answer_read_after_early_close(self):
        gw = fake_gateway("http://127.0.0.1:1", max_body=100)
        try:
            r = request(
                "POST",
                gw.url,
                "/v1/predict",
                b"x" * 2_000_000,
                {"Content-Type": "application/json"},
                timeout=5,
            )
            self.assertEqual(r.status, 413)
        finally:
            gw.close()


@unittest.skipUnless(shutil.which("redis-server"), "redis-server not installed")
class StreamsLogicOnFakes(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.procs = procs.Procs(Path(self.dir))
        _, self.redis = start_redis(self.procs, procs.free_port(), Path(self.dir) / "r")

    def tearDown(self):
        self.procs.stop_all()
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_crash_under_load_logic(self):
        r = self.redis
        r("XGROUP", "CREATE", "c:requests", "ml-workers", "0", "MKSTREAM")
        ml = fake_ml()
        gw = fake_gateway(ml.url)
        calls = []
        try:
            detail = streams.crash_under_load(
                gw.url,
                lambda: (calls.append("kill"), ml.paused.set()),
                lambda: (calls.append("start"), ml.paused.clear()),
                r,
                "c",
                timeout_ms=5000,
                total=120,
                inflight=8,
                kill_after=40,
            )
        finally:
            gw.close()
            ml.close()
        self.assertEqual(calls, ["kill", "start"])
        self.assertIn("120 answered", detail)


class FakeSSE:
    """A gateway's chat stream (with the ML service's metrics), faithful or
    broken in one way: `delay` between events (0: all in one write, as a
    buffering gateway would), `spaced` (JSON with spaces), `no_done`,
    `ignore_cancel` (generates on when the client is gone); `queue`: a
    bounded queue of that many events between the model and the client
    (slow_reader), the model making one each `pace` seconds."""

    def __init__(
        self, tokens=30, delay=0.01, spaced=False, no_done=False, chunked=True, ignore_cancel=False,
        queue=None, pace=0.0,
    ):  # fmt: skip
        import http.server
        import socketserver
        import threading

        fake = self
        self.cancelled = self.made = 0

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def reply(self, ctype, body):
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                self.reply(
                    "text/plain",
                    f"ml_chat_streams_cancelled_total {float(fake.cancelled)}\n"
                    f"ml_chat_tokens_total {float(fake.made)}\n".encode(),
                )

            def do_POST(self):
                req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                rid = self.headers.get("X-Request-ID", "r1")
                n_tokens = min(req.get("max_completion_tokens") or tokens, 20_000)
                if not req.get("stream"):
                    choice = {"index": 0, "message": {"role": "assistant", "content": " w"},
                              "logprobs": None, "finish_reason": "length"}  # fmt: skip
                    self.reply("application/json", json.dumps({"choices": [choice]}).encode())
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("X-Accel-Buffering", "no")
                self.send_header("X-Request-ID", rid)
                if chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    self.send_header("Connection", "close")
                self.end_headers()
                sep = (", ", ": ") if spaced else (",", ":")
                events = []
                for n in range(n_tokens + 1):
                    delta = {} if n == n_tokens else {"content": f" w{n}"}
                    if n == 0:
                        delta = {"role": "assistant", **delta}
                    chunk = {
                        "id": f"chatcmpl-{rid}",
                        "object": "chat.completion.chunk",
                        "created": 1,
                        "model": "ngram",
                        "choices": [
                            {
                                "index": 0,
                                "delta": delta,
                                "logprobs": None,
                                "finish_reason": "length" if n == n_tokens else None,
                            }
                        ],
                    }
                    events.append(b"data: " + json.dumps(chunk, separators=sep).encode() + b"\n\n")
                if not no_done:
                    events.append(b"data: [DONE]\n\n")
                if queue is not None:
                    return self.bounded(events)
                writes = events if delay else [b"".join(events)]
                gone = False
                for w in writes:
                    if chunked:
                        w = b"%x\r\n" % len(w) + w + b"\r\n"
                    try:
                        if not gone:
                            self.wfile.write(w)
                            self.wfile.flush()
                    except (BrokenPipeError, ConnectionResetError):
                        gone = True  # the client hung up: a model stops here
                        fake.cancelled += 1
                        if not ignore_cancel:
                            break
                    fake.made += 1
                    time.sleep(delay)
                if chunked and not gone:
                    self.wfile.write(b"0\r\n\r\n")
                self.close_connection = True

            def bounded(self, events):
                """A gateway's bounded queue between a model that makes
                events at once and this client: one more than `queue`
                waiting ends the stream with slow_reader."""
                import collections

                waiting, lock, over = collections.deque(), threading.Lock(), threading.Event()

                def produce():
                    for e in events:
                        if pace:
                            time.sleep(pace)
                        with lock:
                            if len(waiting) >= queue:
                                over.set()
                                fake.cancelled += 1
                                return
                            waiting.append(e)
                        fake.made += 1

                threading.Thread(target=produce, daemon=True).start()
                while True:
                    with lock:
                        e = waiting.popleft() if waiting and not over.is_set() else None
                    if e is None and over.is_set():
                        e = chat.SLOW_READER_EVENT
                    if e is not None:
                        self.wfile.write(b"%x\r\n" % len(e) + e + b"\r\n")
                    if e == chat.SLOW_READER_EVENT or (e is None and fake.made == len(events)):
                        break
                    if e is None:
                        time.sleep(0.001)
                self.wfile.write(b"0\r\n\r\n")

        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.server = S(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class MlOnce(unittest.TestCase):
    """The ML service's checks run once per services/ml, names aside."""

    def fingerprint(self, root: Path, project: str, extra: str = "") -> str:
        pkg = project.replace("-", "_")
        title = " ".join(w.capitalize() for w in project.split("-"))
        ml = root / project / "services" / "ml"
        (ml / "src" / pkg).mkdir(parents=True)
        (ml / "src" / pkg / "__init__.py").write_text(
            f'"""{title} ML."""\nNAME = "{project}"\n{extra}'
        )
        (ml / ".mypy_cache").mkdir()
        (ml / ".mypy_cache" / project).write_text(project)  # caches do not count
        c = Combo.__new__(Combo)
        c.project, c.ml = project, ml
        return c.ml_fingerprint()

    def test_names_aside_equal_else_not(self):
        with tempfile.TemporaryDirectory() as d:
            a = self.fingerprint(Path(d), "e2e-go-http")
            b = self.fingerprint(Path(d), "e2e-node-http-jwt")
            c = self.fingerprint(Path(d), "e2e-go-streams", extra="x = 1\n")
        self.assertEqual(a, b)
        self.assertNotEqual(a, c)


class ChatChecksOnFakes(unittest.TestCase):
    """harness/chat.py's raw SSE client and stream checks."""

    def test_streaming_off_pairs_with_auth_none(self):
        from harness.combo import COMBOS, STREAMING_OFF, combo_name

        names = {combo_name(*c) for c in COMBOS}
        self.assertEqual(STREAMING_OFF, {"node-rabbitmq-none", "go-kafka-none"})
        self.assertLessEqual(STREAMING_OFF, names)
        # every gateway x transport runs with api-key (the contract, parity)
        for gateway in ("go", "node", "node-express"):
            for transport in ("http", "redis-streams", "rabbitmq", "kafka"):
                self.assertIn(combo_name(gateway, transport), names)
        ctx = type("Ctx", (), {"rep": quiet(), "work": Path(tempfile.gettempdir())})()
        off, on = Combo(ctx, "node", "rabbitmq", "none"), Combo(ctx, "node", "rabbitmq")
        self.assertEqual((off.streaming, on.streaming), (False, True))
        self.assertIn("chat-off", off.phases)
        self.assertIn("chat", on.phases)

    def check(self, fake, tokens=30):
        body = chat.chat_body(stream=True, max_completion_tokens=tokens)
        s = chat.stream(fake.url, body, {"X-Request-ID": "rid-1"})
        chunks = chat.check_framing(s, "rid-1", tokens)
        return s, chunks

    def test_faithful_stream_passes(self):
        for chunked in (True, False):
            with FakeSSE(chunked=chunked) as fake:
                s, chunks = self.check(fake)
            self.assertEqual(len(chunks), 31)
            self.assertGreater(s.times[-1] - s.times[0], 0.2)

    def test_framing_faults_fail(self):
        for broken in ({"spaced": True}, {"no_done": True}):
            with FakeSSE(**broken) as fake, self.assertRaises(CheckFailed, msg=broken):
                self.check(fake)

    def test_a_buffered_stream_is_seen(self):
        with FakeSSE(delay=0) as fake:
            s, chunks = self.check(fake)
        self.assertEqual(len(chunks), 31)
        self.assertLess(s.times[-1] - s.times[0], 0.05)
        self.assertEqual(len({round(t, 3) for t in s.times}), 1)

    def test_a_hang_up_must_stop_the_generation(self):
        with FakeSSE(delay=0.01) as fake:
            detail = chat.disconnect(None, fake.url, fake.url)
        self.assertIn("cancel counted", detail)
        with FakeSSE(delay=0.01, ignore_cancel=True) as fake:
            with self.assertRaisesRegex(CheckFailed, "ml_chat_tokens_total went on"):
                chat.disconnect(None, fake.url, fake.url)

    def test_a_client_that_does_not_read_gets_slow_reader(self):
        with FakeSSE(queue=8, delay=0) as fake:
            detail = chat.slow_reader(None, fake.url, fake.url)
        self.assertIn("then slow_reader", detail)

    def test_a_slow_reader_is_seen_however_long_the_buffers_take_to_fill(self):
        # The bug: the check paused 3 s, then read; a model of ~1000 events a
        # second over loopback (megabytes of send buffer) had not filled the
        # buffers by then, the client kept up from then on, and the check
        # failed on a loaded host. The client now waits for the cancel.
        with FakeSSE(queue=8, pace=0.001) as fake:
            detail = chat.slow_reader(None, fake.url, fake.url)
        self.assertIn("then slow_reader", detail)

    def test_a_client_may_stop_after_a_few_events(self):
        with FakeSSE(delay=0.02) as fake:
            c = chat.SSEClient(fake.url)
            try:
                started = c.send("/v1/chat/completions", chat.chat_body(stream=True))
                s = c.events(c.head(started), limit=3)
            finally:
                c.close()
        self.assertEqual(len(s.events), 3)
        self.assertFalse(s.complete)


class Matrix(unittest.TestCase):
    """What run.py runs: names, --quick, static-all's option grid."""

    def test_static_all_covers_every_option_once(self):
        from harness import static_matrix

        grid = static_matrix.answers()
        self.assertEqual(len(grid), 3 * 4 * 3 * 2 * 2 * 2)
        self.assertEqual(len({name for name, _ in grid}), len(grid))
        args = [" ".join(a) for _, a in grid]
        for flag in ("--transport kafka", "--auth none", "--streaming false", "rate_limit=0",
                     "--node-framework express", "--kubernetes false",
                     "--kubernetes true"):  # fmt: skip
            self.assertTrue(any(flag in a for a in args), flag)

    def test_quick_and_combo_names(self):
        import run

        args = run.parse_args(["--quick"])
        self.assertEqual(run.chosen_names(args), run.QUICK)
        self.assertEqual({n.split("-")[-1] for n in run.QUICK}, {"http", "streams", "rabbitmq",
                         "kafka"})  # fmt: skip
        args = run.parse_args([])
        self.assertIn("static-all", run.chosen_names(args))
        self.assertIn("regen-go-transports", run.chosen_names(args))
        self.assertEqual(run.parse_args(["--combo", "regen"]).regen, True)

    def test_bus_combinations_reach_their_broker_by_their_own_variables(self):
        from harness.brokers import Broker

        ctx = type("Ctx", (), {"rep": quiet(), "work": Path(tempfile.gettempdir())})()
        for transport, var in (("rabbitmq", "RABBITMQ_URL"), ("kafka", "KAFKA_BOOTSTRAP_SERVERS")):
            c = Combo(ctx, "go", transport)
            c.broker = Broker(transport, var, "addr", None)
            self.assertEqual(c.transport_env("p1"), {var: "addr", "BUS_PREFIX": "p1"})
            self.assertEqual(c.test_var, var)
            self.assertTrue(c.worker_based and not c.streams)
        self.assertEqual(Combo(ctx, "go", "kafka").timeout_ms, 15000)
        self.assertEqual(Combo(ctx, "go", "rabbitmq").timeout_ms, 5000)

    def test_combinations_sharing_a_services_ml_are_not_prepared_side_by_side(self):
        import run
        from harness.combo import COMBOS

        ctx = type("Ctx", (), {"rep": quiet(), "work": Path(tempfile.gettempdir())})()
        combos = [Combo(ctx, *c) for c in COMBOS]
        ordered = run.prep_order(combos)
        self.assertEqual(sorted(c.name for c in ordered), sorted(c.name for c in combos))
        ml = [(c.transport, c.streaming) for c in ordered]
        # --jobs 2 prepares neighbours together: those must not share services/ml
        together = [pair for pair in zip(ml, ml[1:], strict=False) if pair[0] == pair[1]]
        self.assertFalse(together, [c.name for c in ordered])
        self.assertEqual(ordered[0].transport, "kafka")  # the slowest first

    def test_the_first_two_prepared_are_not_both_go(self):
        # Two Go gateways prepared side by side on a fresh machine both compiled the
        # same modules into a cold build cache (go build 60 s, go test -race 185 s each,
        # against ~50 s once the cache is warm); one Go and one Node.js fill both caches.
        import run
        from harness.combo import COMBOS

        ctx = type("Ctx", (), {"rep": quiet(), "work": Path(tempfile.gettempdir())})()
        ordered = run.prep_order([Combo(ctx, *c) for c in COMBOS])
        self.assertNotEqual(ordered[0].gateway, ordered[1].gateway, [c.name for c in ordered])

    def test_the_schedule_never_runs_two_runtime_phases_at_once(self):
        import threading

        import run

        lock = threading.Lock()
        now = {"tasks": 0, "exercising": 0}
        seen = {"tasks": 0, "exercising": 0}
        log: list[tuple[str, str]] = []

        class Fake:
            def __init__(self, name, secs):
                self.name, self.secs = name, secs

            def task(self, kind, ok=True):
                with lock:
                    log.append((kind, self.name))
                    now["tasks"] += 1
                    now["exercising"] += kind == "exercise"
                    for k in now:
                        seen[k] = max(seen[k], now[k])
                time.sleep(self.secs)
                with lock:
                    now["tasks"] -= 1
                    now["exercising"] -= kind == "exercise"
                return ok

            def prepare(self):
                return self.task("prepare", ok=self.name != "broken")

            def exercise(self):
                self.task("exercise")

            def close(self):
                pass

        class FakeStaticAll(run.StaticMatrix):
            def __init__(self):
                self.name = "static-all"

            def run_all(self):
                with lock:
                    log.append(("prepare", self.name))

        fakes = [Fake(n, s) for n, s in (("a", 0.05), ("b", 0.01), ("broken", 0.01), ("c", 0.03))]
        run.Schedule(fakes, FakeStaticAll(), 2).run()
        self.assertEqual(seen, {"tasks": 2, "exercising": 1})
        prepared = [n for k, n in log if k == "prepare"]
        # static-all (no runtime phases) last: it fills the slot the last runtime phases leave
        self.assertEqual(prepared[-1], "static-all")
        self.assertEqual(sorted(prepared), ["a", "b", "broken", "c", "static-all"])
        # prepared before exercised; a combination that failed to prepare is not exercised
        self.assertEqual(sorted(n for k, n in log if k == "exercise"), ["a", "b", "c"])
        for name in "abc":
            self.assertLess(log.index(("prepare", name)), log.index(("exercise", name)))


# A small deploy/k8s tree that passes every check of harness/k8s_checks.py:
# each test breaks one thing of it and expects the check to fail for that.
K8S_BASE = """\
apiVersion: v1
kind: ServiceAccount
metadata:
  name: worker
automountServiceAccountToken: false
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker
  annotations:
    # the topology spread below places the replicas (a hard anti-affinity
    # would leave pods pending on a one-node cluster); the ScaledObject owns
    # the replica count, and kube-score does not read ScaledObjects
    kube-score/ignore: deployment-has-host-podantiaffinity,deployment-replicas
spec:
  selector:
    matchLabels: {app: worker}
  template:
    metadata:
      labels: {app: worker}
    spec:
      serviceAccountName: worker
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        runAsGroup: 10001
        seccompProfile: {type: RuntimeDefault}
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels: {app: worker}
      containers:
        - name: worker
          image: example.com/ml@sha256:%s
          imagePullPolicy: Always
          ports:
            - {name: http, containerPort: 8000}
          readinessProbe:
            httpGet: {path: /readyz, port: http}
          livenessProbe:
            exec: {command: [python, -m, app.heartbeat]}
          startupProbe:
            httpGet: {path: /healthz, port: http}
            failureThreshold: 30
          resources:
            requests: {cpu: 100m, memory: 256Mi, ephemeral-storage: 100Mi}
            limits: {cpu: "1", memory: 512Mi, ephemeral-storage: 100Mi}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            runAsUser: 10001
            runAsGroup: 10001
            capabilities: {drop: [ALL]}
          volumeMounts:
            - {name: tmp, mountPath: /tmp}
      volumes:
        - name: tmp
          emptyDir: {}
---
apiVersion: v1
kind: Service
metadata:
  name: worker
spec:
  selector: {app: worker}
  ports:
    - {name: http, port: 8000, targetPort: http}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: worker
spec:
  minAvailable: 1
  selector:
    matchLabels: {app: worker}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: worker
spec:
  podSelector:
    matchLabels: {app: worker}
  policyTypes: [Ingress]
  ingress:
    - ports:
        - {port: 8000}
---
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata:
  name: redis
spec:
  secretTargetRef:
    - {parameter: password, name: redis, key: password}
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: worker
spec:
  scaleTargetRef:
    name: worker
  minReplicaCount: 1
  maxReplicaCount: 10
  cooldownPeriod: 300
  triggers:
    - type: redis-streams
      metadata:
        address: redis:6379
        stream: predictions
        consumerGroup: ml
        pendingEntriesCount: "10"
        lagCount: "10"
      authenticationRef:
        name: redis
""" % ("0" * 64)


@unittest.skipUnless(
    all(shutil.which(t, path=f"{k8s_checks.cache_dir() / 'bin'}:{os.environ.get('PATH', '')}")
        for t in ("kubectl", "kubeconform", "kube-score"))
    and (k8s_checks.schema_dir() / "keda-params.json").is_file(),
    "kubectl, kubeconform, kube-score or the schemas missing (scripts/e2e-deps.sh)",
)  # fmt: skip
class K8sChecks(unittest.TestCase):
    def setUp(self):
        self.dir = Path(tempfile.mkdtemp(prefix="k8s-selftest-"))
        self.k8s = self.dir / "deploy" / "k8s"
        (self.k8s / "base").mkdir(parents=True)
        self.env = dict(os.environ)
        self.env["PATH"] = f"{k8s_checks.cache_dir() / 'bin'}:{self.env.get('PATH', '')}"
        for overlay in k8s_checks.OVERLAYS:
            d = self.k8s / "overlays" / overlay
            d.mkdir(parents=True)
            (d / "kustomization.yaml").write_text("resources:\n  - ../../base\n")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def check(self, base: str) -> str | None:
        """None when the tree passes, else the failure's text."""
        (self.k8s / "base" / "kustomization.yaml").write_text(
            "namespace: demo\nresources:\n  - all.yaml\n"
        )
        (self.k8s / "base" / "all.yaml").write_text(base)
        try:
            k8s_checks.validate(self.k8s, self.env)
        except CheckFailed as e:
            return str(e)
        return None

    def fails(self, old: str, new: str, *why: str) -> None:
        self.assertIn(old, K8S_BASE)
        err = self.check(K8S_BASE.replace(old, new, 1))
        self.assertIsNotNone(err, f"{old!r} -> {new!r} passed")
        for w in why:
            self.assertIn(w, err)

    def test_the_sample_passes_offline(self):
        self.assertIsNone(self.check(K8S_BASE))

    def test_an_unknown_field_fails(self):
        self.fails("readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true",
                   "readOnlyRootFileSystem' not allowed")  # fmt: skip
        self.fails("cooldownPeriod: 300", "cooldownPeriods: 300", "ScaledObject worker is invalid")
        self.fails("  secretTargetRef:", "  secretTargetRefs:", "TriggerAuthentication redis")
        self.fails("  name: worker\n  annotations:", "  name: worker\n  labelz: {}\n  annotations:",
                   "labelz")  # fmt: skip

    def test_a_kind_without_schema_fails(self):
        self.fails("kind: ScaledObject", "kind: ScaledObjects", "could not find schema")

    def test_a_trigger_key_its_scaler_does_not_read_fails(self):
        self.fails("pendingEntriesCount:", "pendingEntriesCnt:", "pendingEntriesCnt")
        self.fails("{parameter: password,", "{parameter: passwd,", "passwd")

    def test_a_missing_probe_fails(self):
        self.fails("          readinessProbe:\n            httpGet: {path: /readyz, port: http}\n",
                   "", "no readinessProbe, behind Service worker")  # fmt: skip
        self.fails("          livenessProbe:\n"
                   "            exec: {command: [python, -m, app.heartbeat]}\n",
                   "", "no livenessProbe")  # fmt: skip

    def test_hardening(self):
        self.fails("readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false",
                   "readOnlyRootFilesystem is not true")  # fmt: skip
        self.fails("capabilities: {drop: [ALL]}", "capabilities: {drop: [NET_RAW]}", "drop ALL")
        self.fails("  podSelector: {}\n  policyTypes: [Ingress, Egress]",
                   "  podSelector: {}\n  policyTypes: [Ingress]", "default-deny")  # fmt: skip
        self.fails("@sha256:" + "0" * 64, ":1.0", "prod: Deployment/worker",
                   "not pinned by digest")  # fmt: skip
        self.fails("      automountServiceAccountToken: false\n", "",
                   "the pod does not set automountServiceAccountToken false")  # fmt: skip
        self.fails("kind: ServiceAccount\nmetadata:\n  name: worker\nautomount"
                   "ServiceAccountToken: false\n", "kind: ConfigMap\nmetadata:\n  name: c\n",
                   "runs as ServiceAccount worker, not one of its own")  # fmt: skip
        self.fails("---\napiVersion: networking.k8s.io/v1",
                   "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n"
                   "stringData: {password: hunter2}\n---\napiVersion: networking.k8s.io/v1",
                   "Secret/s: carries values")  # fmt: skip

    def test_kube_score_findings_and_unjustified_ignores_fail(self):
        self.fails("          imagePullPolicy: Always\n", "", "container-image-pull-policy")
        self.fails("kube-score/ignore", "kube-score/unignored",
                   "deployment-has-host-podantiaffinity")  # fmt: skip
        self.fails("    # the topology spread below places the replicas (a hard anti-affinity\n"
                   "    # would leave pods pending on a one-node cluster); the ScaledObject owns\n"
                   "    # the replica count, and kube-score does not read ScaledObjects\n", "",
                   "all.yaml:", "no comment says why deployment-replicas is ignored")  # fmt: skip

    def test_a_comment_naming_the_ignored_test_justifies_it(self):
        moved = K8S_BASE.replace(
            "    # the topology spread below places the replicas (a hard anti-affinity\n"
            "    # would leave pods pending on a one-node cluster); the ScaledObject owns\n"
            "    # the replica count, and kube-score does not read ScaledObjects\n", "",
        ).replace(
            "kind: Deployment\n",
            "# deployment-has-host-podantiaffinity: the topology spread places them\n"
            "# deployment-replicas: the ScaledObject owns the count\nkind: Deployment\n",
        )  # fmt: skip
        self.assertIsNone(self.check(moved))
        err = self.check(moved.replace("# deployment-replicas: the", "# the"))
        self.assertIn("why deployment-replicas is ignored", err or "")

    def test_a_justified_kube_score_ignore_waives_its_hardening_item(self):
        waived = K8S_BASE.replace(
            "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false"
        ).replace(
            "kube-score/ignore: deployment-has-host-podantiaffinity,deployment-replicas",
            "kube-score/ignore: deployment-has-host-podantiaffinity,deployment-replicas,"
            "container-security-context-readonlyrootfilesystem",
        ).replace(
            "kind: Deployment\n",
            "# container-security-context-readonlyrootfilesystem: the image writes\n"
            "kind: Deployment\n",
        )  # fmt: skip
        self.assertIsNone(self.check(waived))

    def test_kubernetes_false_means_nothing_of_it(self):
        (self.dir / "README.md").write_text("# demo\n\nmake dev\n")
        shutil.rmtree(self.dir / "deploy")
        k8s_checks.absent(self.dir)
        (self.dir / "README.md").write_text("## Deploy to Kubernetes\nkubectl apply -k x\n")
        with self.assertRaises(CheckFailed):
            k8s_checks.absent(self.dir)
        (self.dir / "deploy").mkdir()
        (self.dir / "README.md").write_text("# demo\n")
        with self.assertRaises(CheckFailed):
            k8s_checks.absent(self.dir)


class ScaleOut(unittest.TestCase):
    """load.py --workers: its arguments, /proc parsing and tables (nothing timed)."""

    def test_counts(self):
        import load

        self.assertEqual(load.parse_counts("3,1,2,2"), [1, 2, 3])
        for bad in ("0,1", "", "x"):
            with self.assertRaises(ValueError):
                load.parse_counts(bad)

    def test_proc_stat(self):
        import load

        # the command name may hold spaces and parentheses
        line = "4242 (python (x) y) S 1 4240 4240 0 -1 4194560 9 0 0 0 70 30 0 0 20 0 3 0"
        self.assertEqual(load.stat_ticks(line), (4240, 100))
        busy, total = load.machine_busy("cpu  100 5 50 800 20 3 2 0 0 0\ncpu0 1 2 3 4\n")
        self.assertEqual((busy, total), (160, 980))
        groups = ["gateway-main", "worker", "worker-2", "redis-6379", "kafka", "rabbitmq", "ml"]
        self.assertEqual(
            [load.cpu_group(n) for n in groups],
            ["gateway", "workers", "workers", "redis", "broker", "broker", "ml"],
        )
        self.assertGreater(sum(load.ticks_by_session().values()), 0)

    def test_tables(self):
        import load

        def res(rps, requests, non2xx, workers):
            cores = dict.fromkeys(load.CPU_GROUPS, 0.1) | {"workers": workers, "total": 1.9}
            return {"rps": rps, "requests": requests, "non2xx": non2xx, "p50": 1.0, "p99": 2.0,
                    "cores": cores}  # fmt: skip

        rows = [
            ("go-kafka", 1, res(1000.0, 20000, 0, 0.5)),
            ("go-kafka", 2, res(1800.0, 36000, 3600, 0.9)),  # 10 % non-2xx: 1620/s
            ("go-rabbitmq", 1, res(900.0, 18000, 0, 0.45)),
            ("go-rabbitmq", 2, None),
        ]
        text = load.scale_tables(rows, [1, 2])
        lines = text.splitlines()
        self.assertIn("1 worker", lines[0])
        self.assertIn("2 workers", lines[0])
        kafka = next(line for line in lines if line.startswith("go-kafka "))
        self.assertEqual(kafka.split(), ["go-kafka", "1000", "1620", "(x1.62)"])
        rabbit = next(line for line in lines if line.startswith("go-rabbitmq "))
        self.assertEqual(rabbit.split(), ["go-rabbitmq", "900", "-"])
        detail = [line for line in lines if line.startswith("go-kafka ") and "|" in line]
        self.assertEqual(detail[1].split()[:4], ["go-kafka", "2", "1620", "1800"])
        self.assertIn("did not run", text)


class RateLimitBurst(unittest.TestCase):
    """ratelimit.burst_remaining_problem: the r= of a burst's answers."""

    def test_a_refill_during_a_slow_burst_is_not_a_failure(self):
        # go-kafka-none on CI: the fifth answer came 1.2 s after the first send
        problem = ratelimit.burst_remaining_problem([4, 3, 2, 1, 1], [0.3, 0.6, 0.8, 1.0, 1.2])
        self.assertIsNone(problem)

    def test_a_fast_burst_counts_down_to_zero(self):
        self.assertIsNone(ratelimit.burst_remaining_problem([4, 3, 2, 1, 0], [0.01] * 5))
        problem = ratelimit.burst_remaining_problem([4, 3, 2, 1, 1], [0.1, 0.2, 0.3, 0.4, 0.5])
        self.assertIn("want ['4', '3', '2', '1', '0']", problem or "")

    def test_a_remaining_below_the_count_is_a_failure_however_slow(self):
        problem = ratelimit.burst_remaining_problem([4, 2], [5.0, 6.0])
        self.assertIn("r= of the burst: [4, 2]", problem or "")


class BenchReport(unittest.TestCase):
    """scripts/bench: gateway / ML alone is the median of the rounds' ratios."""

    @staticmethod
    def row(rps: float) -> dict:
        return {"rps": rps, "requests": int(rps * 10), "non2xx": 0, "p50": 1.0, "p99": 2.0,
                "cores": {}}  # fmt: skip

    def report(self, bare: list[float], through: list[float], ml_env: dict | None = None) -> str:
        import argparse
        import contextlib

        import bench

        b = bench.Bench.__new__(bench.Bench)
        b.args = argparse.Namespace(
            threads=2, connections=32, duration=10, warmup=2, ml_env=ml_env or {}
        )
        b.edge, b.sse = None, []
        alone, gw = [self.row(r) for r in bare], [self.row(r) for r in through]
        b.paired = {"go": bench.round_ratios(alone, gw)}
        b.rows = [
            ("go", "go-http: ML alone", bench.combine(alone)),
            ("go", "go-http", bench.combine(gw)),
        ]
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            b.report(None)
        return out.getvalue()

    def test_one_slow_stretch_moves_one_rounds_ratio_not_the_result(self):
        # round 4: the machine slowed down while the gateway ran
        text = self.report([3000, 3100, 2900, 3050, 3000], [2550, 2640, 2470, 1500, 2580])
        line = next(x for x in text.splitlines() if "through the gateway / ML alone" in x)
        self.assertEqual(line.split()[-4:], ["0.85", "(>=", "0.80:", "met)"])
        self.assertIn("round by round: 0.85 0.85 0.85 0.49 0.86", text)
        self.assertIn("the rows' sums: 0.78", text)

    def test_a_round_that_did_not_run_leaves_no_ratio(self):
        import bench

        self.assertIsNone(bench.round_ratios([self.row(3000), None], [self.row(2500)] * 2))
        self.assertEqual(bench.round_ratios([self.row(2000)], [self.row(1500)]), [0.75])

    def test_a_gateway_below_its_target_in_most_rounds_is_not_met(self):
        text = self.report([3000, 3000, 3000], [2700, 2100, 2200])
        line = next(x for x in text.splitlines() if "through the gateway / ML alone" in x)
        self.assertIn("0.73", line)
        self.assertIn("NOT met", line)

    def test_the_header_names_the_ml_settings_measured(self):
        text = self.report([3000], [2700], {"ML_BATCH_MAX_WAIT_MS": "1"})
        header = next(x for x in text.splitlines() if x.startswith("bench: wrk"))
        self.assertIn("; ML_BATCH_MAX_WAIT_MS=1", header)
        plain = self.report([3000], [2700])
        self.assertNotIn("ML_", next(x for x in plain.splitlines() if x.startswith("bench: wrk")))


if __name__ == "__main__":
    try:
        unittest.main(verbosity=2)
    finally:
        procs.kill_all()
        subprocess.run(["true"])
