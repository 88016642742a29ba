"""llhttp's own request test cases (test/request/*.md, llhttp v9.4.2), as server cases.

Each case in those files is a markdown section: a `<!-- meta={...} -->` line,
an ```http block with the input, and a ```log block with the callbacks llhttp
reports for it. The input bytes are rebuilt the way llhttp's test/md-test.ts
does. The expected log then tells how many messages llhttp completes, and
whether and where it errors or pauses (CONNECT, Upgrade, PRI). That becomes
the verdict for a server (see `expectation`).

Only `"type": "request"` cases (llhttp's strict parser) are run. Lenient-mode
cases, and `skipBody` (a C-API return value, not bytes on the wire), are SKIP.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from verdicts import Case, Expect, Outcome, Tail, answer, refuse

FILES = ("sample", "method", "uri", "connection", "content-length", "transfer-encoding",
         "invalid", "pipelining", "lenient-headers", "lenient-header-value-relaxed",
         "lenient-version")

HEAD, CONNECT = 2, 5  # llhttp method codes in "headers complete method=N"
F_CONNECTION_KEEP_ALIVE, F_CONNECTION_CLOSE = 0x1, 0x2  # llhttp flags
PAUSE_UPGRADE, PAUSE_H2_UPGRADE = 22, 23  # HPE_PAUSED_UPGRADE, HPE_PAUSED_H2_UPGRADE
DATA_AFTER_CLOSE = 5  # HPE_CLOSED_CONNECTION: "Data after `Connection: close`"
# HPE_UNEXPECTED_CONTENT_LENGTH, HPE_INVALID_CONTENT_LENGTH, HPE_INVALID_TRANSFER_ENCODING
FRAMING_ERRORS = frozenset({4, 11, 15})

HOST_LINE = b"Host: localhost\r\n"

# ---------------------------------------------------------------------------
# Where this harness departs from llhttp's verdict. Each entry adds outcomes;
# the llhttp verdict itself is always accepted too.

RFC_ALLOWS: dict[str, tuple[Outcome, str]] = {
    # llhttp refuses; the RFCs let an origin server answer normally.
    "invalid/http-protocol-and-announce-method": (
        answer(1, Tail.CLOSE),
        "RFC 9110 §9.1: any token is a method; an unknown one is answered 501 (§15.6.2). "
        "HTTP/1.0 without keep-alive, so the server closes after the answer"),
    "invalid/invalid-method": (
        answer(1),
        "RFC 9110 §9.1: `MKCOLA` is a valid token; an unknown method is answered 501 (§15.6.2)"),
}

RFC_ALLOWS_REJECT: dict[str, str] = {
    # llhttp accepts; the RFCs let (or tell) a server refuse.
    "sample/no-http-version":
        "RFC 9112 §3: a request-line has an HTTP-version; HTTP/0.9 is not part of HTTP/1.1",
    "method/m-search-request":
        "RFC 9112 §3.2.4: the asterisk-form is only for OPTIONS",
    "method/source-request-with-ice":
        "RFC 9112 §2.3: HTTP-name is `HTTP`; `ICE/1.0` is not an HTTP-version (400 or 505)",
    "method/options-request-with-rtsp":
        "RFC 9112 §2.3: `RTSP/1.0` is not an HTTP-version (400 or 505)",
    "method/announce-request-with-rtsp":
        "RFC 9112 §2.3: `RTSP/1.0` is not an HTTP-version (400 or 505)",
    "uri/quotes-in-uri":
        "RFC 9112 §3.2 and RFC 3986 §2: `\"` and `\\` are not allowed in a request-target (400, §3)",
    "uri/query-url-with-vertical-bar-character":
        "RFC 3986 §3.4: `|` is not allowed in a query (400, RFC 9112 §3)",
    "uri/fragment-in-uri":
        "RFC 9112 §3.2.1: origin-form is absolute-path [ \"?\" query ], with no fragment",
    "uri/host-port-and-basic-auth":
        "RFC 9110 §4.2.4: a recipient SHOULD treat userinfo in an http(s) URI as an error",
    "transfer-encoding/post-with-chunked-as-last-transfer-encoding":
        "RFC 9112 §3.2.1: `#hey` is a fragment, which origin-form has no room for",
    "transfer-encoding/post-with-chunked-as-last-transfer-encoding-multiple-headers":
        "RFC 9112 §3.2.1: `#hey` is a fragment, which origin-form has no room for",
}

# Valid inputs that Debian's llhttp 8.1 (older than the v9.4.2 these cases
# come from) refuses. A server built on it answers these with a refusal or a
# close. That passes; answering any part of them as a request never does.
EXPECTED_REFUSALS: dict[str, str] = {
    "transfer-encoding/chunk-extensions":
        "llhttp 8.1 refuses a second chunk extension that has a value (RFC 9112 §7.1.1 allows any number)",
    "transfer-encoding/chunk-extensions-quoting":
        "llhttp 8.1 refuses a quoted-pair in a chunk-ext quoted-string value (RFC 9110 §5.6.4 allows it)",
    "content-length/tabs-in-content-length-surrounding":
        "llhttp 8.1 refuses HTAB around the Content-Length value (OWS, RFC 9110 §5.5 allows it)",
    "method/query-request":
        "llhttp 8.1 does not know the QUERY method (RFC 9110 §9.1: any token is a method)",
}


# ---------------------------------------------------------------------------
# Reading the markdown files


@dataclass
class RawCase:
    file: str
    line: int
    heading: str
    meta: dict
    http: str
    log: str


def read_md(path: Path) -> list[RawCase]:
    """Splits one llhttp test file into its cases, in file order."""
    out: list[RawCase] = []
    lines = path.read_text(encoding="utf-8").split("\n")
    heading, meta, blocks, start = "", None, {}, 0
    i = 0
    while i < len(lines):
        line = lines[i]
        if re.match(r"#{1,6} ", line):
            heading, meta, blocks = line.lstrip("#").strip(), None, {}
        elif m := re.match(r"<!--\s*meta=(.*?)\s*-->\s*$", line):
            meta, blocks, start = json.loads(m.group(1)), {}, i + 1
        elif m := re.match(r"```(\w+)\s*$", line):
            lang, body = m.group(1), []
            i += 1
            while lines[i] != "```":
                body.append(lines[i])
                i += 1
            # md-test.ts gets the block with its final newline, then drops it.
            blocks[lang] = "\n".join(body)
            if meta is not None and "http" in blocks and "log" in blocks:
                out.append(RawCase(path.stem, start, heading, meta, blocks["http"], blocks["log"]))
                meta, blocks = None, {}
        i += 1
    return out


def decode_input(text: str) -> bytes:
    """The input bytes, rebuilt as llhttp's test/md-test.ts does it."""
    text = re.sub(r"\\(\r\n|\r|\n)", "", text)  # backslash-newline joins lines
    text = re.sub(r"\r\n|\r|\n", "\r\n", text)
    for escape, char in (("\\r", "\r"), ("\\n", "\n"), ("\\t", "\t"), ("\\f", "\f")):
        text = text.replace(escape, char)
    text = re.sub(r"\\x([0-9a-fA-F]+)", lambda m: chr(int(m.group(1), 16)), text)
    text = re.sub(r"\\([0-7]{1,3})", lambda m: chr(int(m.group(1), 8)), text)
    return text.encode("utf-8")  # Node writes the JS string to the parser as UTF-8


@dataclass
class Message:
    """One request as llhttp's log reports it."""

    begin: int
    head_end: int | None = None  # offset just past the header section
    end: int | None = None  # offset just past the message ("message complete")
    method: int | None = None
    version: tuple[int, int] | None = None
    flags: int = 0

    @property
    def closes(self) -> bool:
        """The connection ends after this message (RFC 9112 §9.3, §9.6)."""
        if self.flags & F_CONNECTION_CLOSE:
            return True
        return self.version != (1, 1) and not self.flags & F_CONNECTION_KEEP_ALIVE


@dataclass
class Log:
    messages: list[Message] = field(default_factory=list)
    error: tuple[int, int, str] | None = None  # (offset, code, reason)


LOG_LINE = re.compile(r"off=(\d+) (.*)")
SPAN = re.compile(r'len=(\d+) span\[(\w+)\]=(?:"(.*)"|(cr|lf))$', re.S)
HEADERS = re.compile(r"headers complete method=(\d+) v=(\d+)/(\d+) flags=([0-9a-f]+) content_length=(\d+)")
ERROR = re.compile(r'error code=(\d+) reason="(.*)"')


def unescape_span(text: str) -> str:
    """The log prints control bytes in spans as \\t, \\r, \\n, \\f or \\xHH."""
    named = {"t": "\t", "r": "\r", "n": "\n", "f": "\f"}
    return re.sub(r"\\([trnf]|x[0-9a-fA-F]{2})",
                  lambda m: named.get(m.group(1)) or chr(int(m.group(1)[1:], 16)), text)


def read_log(log: str, data: bytes, where: str) -> Log:
    """Parses an expected log, checking each span's offset against `data`."""
    result = Log()
    for line in log.split("\n"):
        m = LOG_LINE.match(line)
        if not m:
            continue
        off, what = int(m.group(1)), m.group(2)
        if off > len(data):
            raise ValueError(f"{where}: offset {off} is past the {len(data)} input bytes")
        if span := SPAN.match(what):
            n = int(span.group(1))
            want = {"cr": b"\r", "lf": b"\n"}.get(span.group(4) or "")
            if want is None:
                want = unescape_span(span.group(3)).encode("utf-8")
            if data[off:off + n] != want:
                raise ValueError(f"{where}: bytes at {off} are {data[off:off + n]!r}, the log says {want!r}")
        elif what == "message begin":
            result.messages.append(Message(off))
        elif h := HEADERS.match(what):
            msg = result.messages[-1]
            msg.head_end, msg.method = off, int(h.group(1))
            msg.version = (int(h.group(2)), int(h.group(3)))
            msg.flags = int(h.group(4), 16)
        elif what == "message complete":
            result.messages[-1].end = off
        elif e := ERROR.match(what):
            result.error = (off, int(e.group(1)), e.group(2))
    return result


# ---------------------------------------------------------------------------
# Turning a case into a server case


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def add_host(data: bytes, log: Log) -> tuple[bytes, int]:
    """Adds `Host: localhost` as the last field of each HTTP/1.1 request that lacks one.

    Without it, RFC 9112 §3.2 makes every such request a 400, for a reason the
    case is not about. The field goes just before the empty line that ends the
    header section. That is after the point where llhttp errors, if it does, so
    the bytes llhttp judged are unchanged. Returns the new bytes and the number
    of fields added.
    """
    error_at = log.error[0] if log.error else len(data)
    inserts = []
    for msg in log.messages:
        line_end = data.find(b"\r\n", msg.begin)
        if line_end < 0 or not data[msg.begin:line_end].endswith(b" HTTP/1.1"):
            continue
        if msg.head_end is not None:
            at = msg.head_end - 2
            if data[at - 2:at + 2] != b"\r\n\r\n":
                continue
        else:
            at = data.find(b"\r\n\r\n", line_end)
            if at < 0 or at < error_at:
                continue
            at += 2
        fields = data[line_end + 2:at].split(b"\r\n")
        if not any(re.match(rb"(?i)host[ \t]*:", f) for f in fields):
            inserts.append(at)
    for at in reversed(inserts):
        data = data[:at] + HOST_LINE + data[at:]
    return data, len(inserts)


REQUEST_START = re.compile(rb"(\r\n)*[!#$%&'*+.^_`|~0-9A-Za-z-]+ \S+ HTTP/1\.[01]\r\n")


def expectation(log: Log, data: bytes) -> tuple[Outcome, ...]:
    """The server verdict that llhttp's expected log implies.

    * Every message llhttp completes is answered normally.
    * Where llhttp errors, the message is refused: a refusal status or a
      close, and nothing answered after it. If the error is in the body, or
      in Content-Length or Transfer-Encoding, the framing is lost and the
      server must close too (RFC 9112 §6.3, §6.1). For "data after
      `Connection: close`", the server just closes.
    * CONNECT (llhttp pauses) is refused and the connection closed. This
      server does not tunnel (RFC 9110 §9.3.6), and nothing after the CONNECT
      is answered.
    * PRI (llhttp pauses: the HTTP/2 preface) is refused.
    * Upgrade (llhttp pauses) is ignored, as RFC 9110 §7.8 allows. The
      request is answered normally and the connection goes on. The bytes after
      it are not a request in any of these cases, so they are refused or
      waited on.
    * A message llhttp has not finished when the input ends is waited for.
    * After the last message, the server closes if that message says so
      (RFC 9112 §9.6, §9.3).
    """
    done = [m for m in log.messages if m.end is not None]
    if log.error:
        off, code, _ = log.error
        if code == DATA_AFTER_CLOSE:
            return (answer(len(done), Tail.CLOSE),)
        if code == PAUSE_H2_UPGRADE:
            return (refuse(len(done)),)
        if code == PAUSE_UPGRADE and done and done[-1].method == CONNECT:
            return (Outcome(len(done) - 1, Tail.CONNECT_REFUSED),)
        if code == PAUSE_UPGRADE:
            rest = data[off:]
            if REQUEST_START.match(rest):
                raise ValueError("a request follows the Upgrade request; no rule here counts its answers")
            return (answer(len(done), Tail.NOT_A_REQUEST if rest else Tail.IDLE),)
        in_body = len(log.messages) > len(done) and log.messages[-1].head_end is not None
        framing = in_body or code in FRAMING_ERRORS
        return (refuse(len(done), Tail.REFUSE_CLOSE if framing else Tail.REFUSE),)
    if len(done) < len(log.messages):
        return (answer(len(done), Tail.PENDING),)
    return (answer(len(done), Tail.CLOSE if done and done[-1].closes else Tail.IDLE),)


def load(data_dir: Path) -> list[Case]:
    """Every case of the llhttp request files, in file order."""
    cases: list[Case] = []
    seen: dict[str, int] = {}
    for name in FILES:
        for raw in read_md(data_dir / "llhttp" / "request" / f"{name}.md"):
            base = f"{raw.file}/{slug(raw.heading)}"
            seen[base] = seen.get(base, 0) + 1
            case_id = base if seen[base] == 1 else f"{base}-{seen[base]}"
            title = f"{raw.heading} ({raw.file}.md:{raw.line})"
            kind = raw.meta.get("type")
            if kind != "request":
                cases.append(Case(case_id, title, skip=f"llhttp {kind} mode"))
                continue
            if raw.meta.get("skipBody"):
                cases.append(Case(case_id, title, skip="skipBody is an llhttp C-API return value"))
                continue
            cases.append(to_case(case_id, title, raw))
    known = {c.id for c in cases}
    stale = (RFC_ALLOWS.keys() | RFC_ALLOWS_REJECT.keys() | EXPECTED_REFUSALS.keys()) - known
    if stale:
        raise ValueError(f"no llhttp case has the id {sorted(stale)}")
    return cases


def to_case(case_id: str, title: str, raw: RawCase) -> Case:
    data = decode_input(raw.http)
    log = read_log(raw.log, data, case_id)
    expect = Expect(expectation(log, data), "llhttp v9.4.2 expected log")
    if case_id in RFC_ALLOWS:
        outcome, why = RFC_ALLOWS[case_id]
        expect = replace(expect, rfc_allows=(outcome,), rfc_why=why)
    if case_id in RFC_ALLOWS_REJECT:
        expect = replace(expect, rfc_allows=(refuse(0),), rfc_why=RFC_ALLOWS_REJECT[case_id])
    if case_id in EXPECTED_REFUSALS:
        expect = replace(expect, known_refusal=EXPECTED_REFUSALS[case_id])
    data, hosts = add_host(data, log)
    heads = frozenset(i for i, m in enumerate(log.messages) if m.method == HEAD)
    notes = (f"added {hosts} Host field(s)",) if hosts else ()
    return Case(case_id, title, (data,), expect, head_replies=heads, notes=notes)
