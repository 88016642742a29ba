#!/usr/bin/env python3
"""Replays external HTTP/1.1 test collections against a server, and judges each reply.

    python3 run.py --data DIR (--server BINARY [ARGS...] | HOST PORT)
                   [--split N] [--source llhttp|garden] [--only ID] [--show-pass]
                   [--target PATH] [--strict-llhttp] [--jobs N]

Cases come from llhttp's request tests (llhttp_cases.py) and HTTP Garden's
bug payloads (garden_cases.py). Each case is sent on a fresh loopback
connection. The replies are read until the server closes or falls silent for
about a second, then parsed as HTTP/1.1 responses and judged (verdicts.py).
The output is one line per case, then `N passed, M failed, K skipped`. The
exit status is 1 if any case failed.

With --server, BINARY is started with `--port 0 --threads 1` and ARGS, and is
always stopped again by its PID. --server must be the last option.

Standard library only. The data files are read at run time and never copied.
"""

from __future__ import annotations

import argparse
import errno
import fnmatch
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import garden_cases  # noqa: E402
import llhttp_cases  # noqa: E402
from verdicts import Case, Observed, judge  # noqa: E402

LOOPBACK = "127.0.0.1"
QUIET_S = 1.0  # a connection that says nothing for this long is done
CASE_LIMIT_S = 6.0  # upper bound on one exchange
PART_GAP_S = 0.05  # pause between the parts of a multi-part payload
SPLIT_GAP_S = 0.002  # pause between --split writes, so each is read on its own
SHOW_BYTES = 600  # repr() length shown for sent/received bytes
DEFAULT_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "http1"

# ---------------------------------------------------------------------------
# Preparing the bytes

TCHAR = rb"[!#$%&'*+.^_`|~0-9A-Za-z-]"
PLAIN_REQUEST_LINE = re.compile(rb"((?:\r\n)*" + TCHAR + rb"+ )(/[A-Za-z0-9._~/-]*)( HTTP/1\.[01]\r\n)")


def retarget(case: Case, target: str) -> Case:
    """Aims the first request line at `target`, if it is a plain origin-form path.

    A case whose target is the point (a query, a fragment, an absolute-form
    or asterisk-form target, odd bytes, or a request line that is not plain
    `METHOD SP /path SP HTTP/1.x CRLF`) keeps its own. Later requests keep
    theirs too: they are the pipelined or smuggled ones.
    """
    first = case.parts[0]
    m = PLAIN_REQUEST_LINE.match(first)
    if not m or m.group(2) == target.encode():
        return case
    first = m.group(1) + target.encode() + m.group(3) + first[m.end():]
    note = f"target {m.group(2).decode()} -> {target}"
    return replace(case, parts=(first,) + case.parts[1:], notes=case.notes + (note,))


# ---------------------------------------------------------------------------
# One exchange


@dataclass
class Exchange:
    sent: bytes
    received: bytes
    closed: bool
    error: str = ""


def writes_for(case: Case, split: int) -> list[tuple[float, bytes]]:
    """(delay before, bytes) for each write."""
    out = []
    for i, part in enumerate(case.parts):
        step = split or len(part) or 1
        for j in range(0, len(part), step):
            gap = PART_GAP_S if i and not j else (SPLIT_GAP_S if j else 0.0)
            out.append((gap, part[j:j + step]))
    return out


def exchange(port: int, case: Case, split: int) -> Exchange:
    """Sends the case on a new connection and collects what comes back.

    Reading goes on while sending, so a reply (and a close) to the first bytes
    is seen even if the server stops reading. It ends at EOF or reset, after
    QUIET_S without traffic once everything is sent, or at CASE_LIMIT_S.
    """
    writes = writes_for(case, split)
    sent, received = bytearray(), bytearray()
    closed, error = False, ""
    try:
        sock = socket.create_connection((LOOPBACK, port), timeout=2.0)
    except OSError as e:
        return Exchange(b"", b"", False, f"connect failed: {e}")
    with sock, selectors.DefaultSelector() as sel:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        sel.register(sock, selectors.EVENT_READ)
        start = last = time.monotonic()
        next_write = start + (writes[0][0] if writes else 0.0)
        while True:
            now = time.monotonic()
            if now - start > CASE_LIMIT_S:
                break
            if writes and now >= next_write:
                _, chunk = writes.pop(0)
                try:
                    n = sock.send(chunk)
                    sent += chunk[:n]
                    if n < len(chunk):
                        writes.insert(0, (0.0, chunk[n:]))
                except BlockingIOError:
                    writes.insert(0, (0.0, chunk))
                except OSError as e:  # the server closed or reset while we sent
                    if e.errno not in (errno.EPIPE, errno.ECONNRESET):
                        error = f"send failed: {e}"
                    writes.clear()
                last = now
                if writes:
                    next_write = now + writes[0][0]
                continue
            if not writes and now - last >= QUIET_S:
                break
            wait = (next_write - now) if writes else QUIET_S - (now - last)
            if not sel.select(timeout=max(wait, 0.0)):
                continue
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                closed = True
                break
            if not data:
                closed = True
                break
            received += data
            last = time.monotonic()
    return Exchange(bytes(sent), bytes(received), closed, error)


# ---------------------------------------------------------------------------
# Reading the replies

STATUS_LINE = re.compile(rb"HTTP/1\.[01] (\d{3})(?: [^\r\n]*)?\r\n")


def parse_replies(data: bytes, closed: bool, head_replies: frozenset[int]) -> Observed:
    """Splits `data` into HTTP/1.1 responses and returns their final status codes.

    Bodies are framed by RFC 9112 §6.3: none for 1xx, 204, 304 and replies to
    HEAD; chunked; Content-Length; otherwise up to the close.
    """
    statuses: list[int] = []
    pos = 0
    while pos < len(data):
        m = STATUS_LINE.match(data, pos)
        if not m:
            return Observed(statuses, closed, f"not an HTTP/1.1 response at byte {pos}: {data[pos:pos + 60]!r}")
        status = int(m.group(1))
        head_end = data.find(b"\r\n\r\n", m.start())
        if head_end < 0:
            return Observed(statuses, closed, f"response {len(statuses) + 1} ({status}) ends inside its header section")
        fields = {}
        for line in data[m.end():head_end].split(b"\r\n"):
            name, _, value = line.partition(b":")
            fields[name.strip().lower()] = value.strip().lower()
        pos = head_end + 4
        if 100 <= status < 200:
            continue  # interim: not an answer
        if status in (204, 304) or len(statuses) in head_replies:
            pass  # no body
        elif b"chunked" in fields.get(b"transfer-encoding", b""):
            pos = skip_chunked(data, pos)
            if pos < 0:
                return Observed(statuses, closed, f"response {len(statuses) + 1} ({status}): truncated chunked body")
        elif b"content-length" in fields:
            if not fields[b"content-length"].isdigit():
                return Observed(statuses, closed, f"response {len(statuses) + 1} ({status}): bad Content-Length")
            pos += int(fields[b"content-length"])
            if pos > len(data):
                return Observed(statuses, closed, f"response {len(statuses) + 1} ({status}): truncated body")
        elif not closed:
            return Observed(statuses, closed, f"response {len(statuses) + 1} ({status}): unframed body, and no close")
        else:
            pos = len(data)
        statuses.append(status)
    return Observed(statuses, closed)


def skip_chunked(data: bytes, pos: int) -> int:
    """The offset after a chunked body (and trailers) starting at `pos`, or -1."""
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return -1
        size = data[pos:eol].split(b";")[0].strip()
        if not re.fullmatch(rb"[0-9a-fA-F]+", size):
            return -1
        pos = eol + 2
        if int(size, 16) == 0:
            end = data.find(b"\r\n\r\n", pos - 2)
            return -1 if end < 0 else end + 4
        pos += int(size, 16) + 2
        if pos > len(data):
            return -1


# ---------------------------------------------------------------------------
# The server under test


class Server:
    """Runs BINARY --port 0 --threads 1 ARGS and finds its port; stop() ends it by PID."""

    def __init__(self, command: list[str], startup_s: float = 20.0):
        self.proc = subprocess.Popen([command[0], "--port", "0", "--threads", "1", *command[1:]],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.port = 0
        self.output: list[str] = []
        found = threading.Event()

        def drain() -> None:  # keep reading, so a chatty server never blocks on its pipe
            for raw in self.proc.stdout:
                line = raw.decode(errors="replace").rstrip()
                self.output.append(line)
                m = re.match(r"listening on http://([^\s/]+):(\d+)", line)
                if m and not self.port:
                    if m.group(1) not in (LOOPBACK, "localhost"):
                        self.output.append(f"(harness: refusing non-loopback host {m.group(1)})")
                    else:
                        self.port = int(m.group(2))
                    found.set()
            found.set()

        threading.Thread(target=drain, daemon=True).start()
        if not found.wait(startup_s) or not self.port:
            self.stop()
            tail = "\n".join(self.output[-10:])
            raise RuntimeError(f"{command[0]} printed no loopback `listening on` line:\n{tail}")

    def exited(self) -> int | None:
        return self.proc.poll()

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# ---------------------------------------------------------------------------
# Running and reporting


def load_cases(data_dir: Path, source: str | None) -> list[Case]:
    cases: list[Case] = []
    if source in (None, "llhttp"):
        cases += [replace(c, id=f"llhttp/{c.id}") for c in llhttp_cases.load(data_dir)]
    if source in (None, "garden"):
        cases += [replace(c, id=f"garden/{c.id}") for c in garden_cases.load(data_dir)]
    return cases


def selected(case: Case, only: str | None) -> bool:
    if not only:
        return True
    short = case.id.split("/", 1)[1]
    return any(fnmatch.fnmatchcase(name, only) for name in (case.id, short))


def show(data: bytes) -> str:
    text = repr(data)
    return text if len(text) <= SHOW_BYTES else f"{text[:SHOW_BYTES]}... ({len(data)} bytes)"


@dataclass
class Result:
    verdict: str  # PASS, FAIL or SKIP
    detail: str
    allowance: str = ""  # the allowance a pass relied on, if any
    exchange: Exchange | None = None


def run_case(case: Case, port: int, split: int, strict: bool) -> Result:
    if case.skip:
        return Result("SKIP", case.skip)
    ex = exchange(port, case, split)
    if ex.error:
        return Result("FAIL", ex.error, exchange=ex)
    seen = parse_replies(ex.received, ex.closed, case.head_replies)
    ok, detail = judge(case.expect, seen, strict)
    got = f"got {seen.statuses or 'no reply'}, connection {'closed' if ex.closed else 'open'}"
    if ok:
        return Result("PASS", got, detail, ex)
    return Result("FAIL", f"{detail}; {got}", exchange=ex)


def report(case: Case, r: Result, show_pass: bool) -> None:
    if r.verdict == "PASS":
        line = f"PASS {case.id}"
        if r.allowance:
            line += f" ({r.allowance})"
        print(line + (f": {r.detail}" if show_pass else ""))
    else:
        print(f"{r.verdict} {case.id}: {r.detail}")
    if r.exchange and (r.verdict == "FAIL" or show_pass):
        print(f"    case: {case.title}" + (f" [{'; '.join(case.notes)}]" if case.notes else ""))
        print(f"    sent:     {show(r.exchange.sent)}")
        print(f"    received: {show(r.exchange.received)}")
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    server_cmd: list[str] = []
    if "--server" in argv:
        at = argv.index("--server")
        argv, server_cmd = argv[:at], argv[at + 1:]
        if not server_cmd:
            sys.exit("--server needs a BINARY")
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog="--server BINARY [ARGS...] may be given (last) instead of HOST PORT")
    p.add_argument("address", nargs="*", metavar="HOST PORT")
    p.add_argument("--data", type=Path, default=Path(os.environ.get("H1_EXTERNAL_DATA", DEFAULT_DATA)),
                   help="folder with llhttp/ and http-garden/ (default: $H1_EXTERNAL_DATA or ../shared/data/http1)")
    p.add_argument("--split", type=int, default=0, metavar="N", help="send in N-byte writes")
    p.add_argument("--source", choices=("llhttp", "garden"))
    p.add_argument("--only", metavar="ID", help="run one case: its id (with or without llhttp/ or garden/) or a glob")
    p.add_argument("--show-pass", action="store_true", help="print the exchange for passing cases too")
    p.add_argument("--target", default="/plaintext", help="target for the first request line (default /plaintext)")
    p.add_argument("--strict-llhttp", action="store_true", help="no RFC allowances: llhttp's verdicts only")
    p.add_argument("--jobs", type=int, default=12, help="cases run at once (default 12)")
    args = p.parse_args(argv)
    if bool(server_cmd) == bool(args.address) or (args.address and len(args.address) != 2):
        p.error("give either HOST PORT or --server BINARY [ARGS...]")
    if not re.fullmatch(r"/[A-Za-z0-9._~/-]*", args.target):
        p.error("--target must be a plain path such as /plaintext")
    if args.address and args.address[0] not in (LOOPBACK, "localhost"):
        p.error(f"only {LOOPBACK} is tested")

    cases = [c for c in load_cases(args.data, args.source) if selected(c, args.only)]
    if not cases:
        p.error(f"no case matches {args.only!r}")
    cases = [c if c.skip else retarget(c, args.target) for c in cases]

    server = None
    # Ctrl-C and SIGTERM unwind through `finally`, which stops the server.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        if server_cmd:
            try:
                server = Server(server_cmd)
            except (OSError, RuntimeError) as e:
                print(f"cannot start the server: {e}", file=sys.stderr)
                return 2
            port = server.port
        else:
            port = int(args.address[1])
        counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
        pool = ThreadPoolExecutor(max(1, args.jobs))
        try:
            futures = [pool.submit(run_case, c, port, args.split, args.strict_llhttp) for c in cases]
            for case, future in zip(cases, futures):
                result = future.result()
                counts[result.verdict] += 1
                report(case, result, args.show_pass)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        if server and server.exited() is not None:
            print(f"FAIL server exited during the run with status {server.exited()}")
            counts["FAIL"] += 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        if server:
            server.stop()
    print(f"{counts['PASS']} passed, {counts['FAIL']} failed, {counts['SKIP']} skipped")
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
