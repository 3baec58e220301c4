#!/usr/bin/env python3
"""`braid new` against cookiecutter on an equivalent template, same machine, one run.

The template is made from braid's own output: `braid new` the default
ml-gateway project (`--name bench-app`), then every occurrence of the project
name (bench-app), the Python package name (bench_app) and the title
(Bench App) becomes a cookiecutter variable, and every other Jinja-looking
sequence (`{{`, `{%`, `{#`, as in GitHub Actions' `${{ }}`) is escaped, so
cookiecutter renders every file through Jinja, as braid renders every
template. Cookiecutter's output is checked once against braid's, byte for byte
and executable bit for executable bit (braid's own `.braid/` and `braid.toml`
aside): any difference fails the run (exit 1).

Then both run as whole processes into fresh folders on the same file system,
interleaved (braid, cookiecutter, braid, ...), N times each (--runs, default
20) or until --budget seconds (default 20) are spent, at least 3 each. The
folders are removed after the last run, not between runs.

The file system is a RAM one (/dev/shm) when there is one, else TMPDIR's;
`--dir` chooses. Both tools write the same files either way; on a disk
the kernel's cost of creating them can swamp both. On the 2-vCPU VM this was
built on (ext4 without a journal), a file created soon after others were
deleted costs a scan of the recently freed inodes (`recently_deleted` in
perf): `braid new` measured 118 ms, then 217, 262, 255 ms in a folder where
earlier runs had just been removed, 23-28 ms on /dev/shm. That is the
kernel's time, the same for both tools, and it hid the tools' own. The last
line, for machines:

    braid new 9.8 ms  cookiecutter 602.1 ms  ratio 61.4x (median of 20, 120 files, in /dev/shm; ...)

the ratio being cookiecutter's median wall time over braid's. The line before
it gives the same for CPU time (user + system of the process and its
children), which a loaded machine disturbs less.

Cookiecutter (pinned, COOKIECUTTER_VERSION) is installed once in a venv
under ~/.cache/braid-e2e/venvs/ (uv if present, else python3 -m venv + pip).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
COOKIECUTTER_VERSION = "2.6.0"
NAME, PACKAGE, TITLE = "bench-app", "bench_app", "Bench App"
# braid's own files, which a cookiecutter template has no equivalent of
BRAID_ONLY = (".braid", "braid.toml")
MIN_RUNS = 3


def cache_dir() -> Path:
    base = os.environ.get("BRAID_E2E_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "braid-e2e"
    )
    return Path(base)


def fail(msg: str) -> int:
    print(f"bench_new: FAILED: {msg}", file=sys.stderr)
    return 1


def install_cookiecutter() -> Path:
    """The cookiecutter executable of the cached venv, installed if need be."""
    venv = cache_dir() / "venvs" / f"cookiecutter-{COOKIECUTTER_VERSION}"
    exe = venv / "bin" / "cookiecutter"
    done = venv / ".installed"
    if done.is_file() and exe.is_file():
        return exe
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    spec = f"cookiecutter=={COOKIECUTTER_VERSION}"
    uv = shutil.which("uv")
    if uv:
        steps = [
            [uv, "venv", "-q", "--python", sys.executable, str(venv)],
            [uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), spec],
        ]
    else:
        steps = [
            [sys.executable, "-m", "venv", str(venv)],
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", spec],
        ]
    for cmd in steps:
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            raise SystemExit(
                fail(f"cannot install {spec} ({' '.join(cmd)}):\n{r.stdout}{r.stderr}")
            )
    if not exe.is_file():
        raise SystemExit(fail(f"{spec} installed no {exe}"))
    done.write_text(spec + "\n")
    return exe


def ram_dir() -> str | None:
    """/dev/shm when it is a writable folder, else None (TMPDIR)."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK) else None


def find_braid(given: str | None) -> Path:
    if given:
        p = Path(given).resolve()
        if not (p.is_file() and os.access(p, os.X_OK)):
            raise SystemExit(fail(f"no braid binary at {p}"))
        return p
    target = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
    p = target / "release" / "braid"
    if not p.is_file():
        print("bench_new: building braid (cargo build --release)", file=sys.stderr)
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=REPO, check=True)
    return p.resolve()


def escape_jinja(text: str) -> str:
    """Every `{{`, `{%`, `{#` as a Jinja expression printing it."""
    out = []
    i = 0
    while i < len(text):
        pair = text[i : i + 2]
        if pair in ("{{", "{%", "{#"):
            out.append("{{ '" + pair + "' }}")
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def templatize(text: str) -> str:
    """braid's output text as cookiecutter template text."""
    text = escape_jinja(text)
    for literal, var in ((TITLE, "title"), (PACKAGE, "package_name"), (NAME, "project_name")):
        text = text.replace(literal, "{{ cookiecutter." + var + " }}")
    return text


def templatize_path(rel: str) -> str:
    """A path as cookiecutter template path (no escapes: no braces in braid's paths)."""
    if any(s in rel for s in ("{{", "{%", "{#")):
        raise SystemExit(fail(f"a generated path looks like Jinja: {rel}"))
    for literal, var in ((TITLE, "title"), (PACKAGE, "package_name"), (NAME, "project_name")):
        rel = rel.replace(literal, "{{cookiecutter." + var + "}}")
    return rel


def tree(root: Path) -> dict[str, tuple[bytes, bool]]:
    """rel path -> (bytes, executable) of every file under root."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir == ".":
            dirnames[:] = [d for d in dirnames if d not in BRAID_ONLY]
        for n in filenames:
            rel = os.path.normpath(os.path.join(rel_dir, n))
            if rel in BRAID_ONLY:
                continue
            p = Path(dirpath) / n
            out[rel] = (p.read_bytes(), os.access(p, os.X_OK))
    return out


def make_template(project: Path, template: Path) -> int:
    """The cookiecutter template equivalent to project; returns its file count."""
    files = tree(project)
    (template).mkdir(parents=True)
    (template / "cookiecutter.json").write_text(
        json.dumps(
            {
                "project_name": NAME,
                "package_name": "{{ cookiecutter.project_name|replace('-', '_') }}",
                "title": "{{ cookiecutter.project_name|replace('-', ' ')|title }}",
            },
            indent=2,
        )
        + "\n"
    )
    top = template / "{{cookiecutter.project_name}}"
    for rel, (data, executable) in files.items():
        dst = top / templatize_path(rel)
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            dst.write_bytes(templatize(data.decode("utf-8")).encode("utf-8"))
        except UnicodeDecodeError:
            dst.write_bytes(data)  # cookiecutter copies binary files as they are
        os.chmod(dst, 0o755 if executable else 0o644)
    return len(files)


def compare(braid_out: Path, cc_out: Path) -> list[str]:
    a, b = tree(braid_out), tree(cc_out)
    diffs = [f"only in braid's output: {p}" for p in sorted(a.keys() - b.keys())]
    diffs += [f"only in cookiecutter's output: {p}" for p in sorted(b.keys() - a.keys())]
    for p in sorted(a.keys() & b.keys()):
        if a[p][0] != b[p][0]:
            diffs.append(f"content differs: {p}")
        elif a[p][1] != b[p][1]:
            diffs.append(f"executable bit differs: {p}")
    return diffs


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall s, CPU s of the process and its children) of one run, which must succeed."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env
    )
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(
            fail(f"{' '.join(cmd)} exited {proc.returncode}:\n{out.decode(errors='replace')}")
        )
    return wall, usage.ru_utime + usage.ru_stime


def p90(xs: list[float]) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(len(s) * 0.9))]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--braid", help="the braid binary (default: target/release/braid, built if missing)"
    )
    p.add_argument("--runs", type=int, default=20, help="runs of each (default 20)")
    p.add_argument(
        "--budget", type=float, default=20.0, help="seconds of timed runs at most (default 20)"
    )
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    p.add_argument(
        "--dir",
        help="where the outputs go (default: /dev/shm when writable, else TMPDIR)",
    )
    args = p.parse_args()

    braid = find_braid(args.braid)
    cookiecutter = install_cookiecutter()
    work = Path(tempfile.mkdtemp(prefix="braid-bench-new-", dir=args.dir or ram_dir()))
    print(f"bench_new: writing in {work}", file=sys.stderr)
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("BRAID_BLUEPRINTS", None)
    # cookiecutter's replay files and cloned templates stay in the work folder
    config = work / "cookiecutter.yaml"
    config.write_text(
        f'cookiecutters_dir: "{work / "cc-templates"}"\nreplay_dir: "{work / "cc-replay"}"\n'
    )

    def braid_cmd(out: Path) -> list[str]:
        return [str(braid), "new", str(out / NAME), "--yes", "--name", NAME, "--quiet"]

    def cc_cmd(out: Path) -> list[str]:
        return [str(cookiecutter), "--no-input", "--config-file", str(config), "-o", str(out)] + [
            str(work / "template"),
            f"project_name={NAME}",
        ]

    try:
        # the template, and the one equivalence check (these runs also warm the caches)
        ref = work / "ref"
        timed(braid_cmd(ref), env)
        files = make_template(ref / NAME, work / "template")
        check = work / "check"
        timed(cc_cmd(check), env)
        diffs = compare(ref / NAME, check / NAME)
        if diffs:
            for d in diffs[:20]:
                print(f"  {d}", file=sys.stderr)
            return fail(f"cookiecutter's output differs from braid's ({len(diffs)} differences)")

        samples: dict[str, list[tuple[float, float]]] = {"braid": [], "cookiecutter": []}
        spent = 0.0
        for i in range(args.runs):
            if i >= MIN_RUNS and spent > args.budget:
                break
            for tool, cmd in (("braid", braid_cmd), ("cookiecutter", cc_cmd)):
                out = work / f"{tool}-{i}"
                out.mkdir()
                sample = timed(cmd(out), env)
                samples[tool].append(sample)
                spent += sample[0]
    finally:
        if args.keep:
            print(f"bench_new: kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)

    n = len(samples["braid"])
    ms = {t: [w * 1000 for w, _ in s] for t, s in samples.items()}
    cpu = {t: [c * 1000 for _, c in s] for t, s in samples.items()}
    for t in ms:
        print(
            f"  {t:<13} wall median {statistics.median(ms[t]):8.1f} ms  p90 {p90(ms[t]):8.1f} ms"
            f"   CPU median {statistics.median(cpu[t]):8.1f} ms  p90 {p90(cpu[t]):8.1f} ms"
        )
    bc, cc = statistics.median(cpu["braid"]), statistics.median(cpu["cookiecutter"])
    print(
        f"CPU time: braid new {bc:.1f} ms  cookiecutter {cc:.1f} ms  "
        f"ratio {cc / max(bc, 1e-3):.1f}x"
    )
    b, c = statistics.median(ms["braid"]), statistics.median(ms["cookiecutter"])
    print(
        f"braid new {b:.1f} ms  cookiecutter {c:.1f} ms  ratio {c / b:.1f}x "
        f"(median of {n}, {files} files, in {work.parent}; cookiecutter {COOKIECUTTER_VERSION})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
