"""HTTP Garden's found-bug payloads (TROPHIES.md), as server cases.

TROPHIES.md lists parser bugs the Garden found in servers and proxies
("transducers"). Each comes with an example payload line,
`- Payload: \\`...\\``, written with \\r, \\n, \\t and \\xHH escapes. The Garden
gives no verdict for an origin server. `EXPECT` below is this harness's own
reading of each entry against RFC 9112 and RFC 9110. Every entry cites the
section it rests on.

Verdict kinds, built from verdicts.Outcome:

* REJECT: the message is invalid. It is refused (a refusal status or a
  close), and nothing in the payload is answered.
* REJECT_CLOSE: as REJECT, and the body framing is lost as well, so the
  server must close. Smuggled requests inside the payload stay unanswered.
* answer(n), answer(n, CLOSE), answer(0, PENDING): the payload is valid. It
  holds n requests that must each be answered normally, followed by the
  given tail (see verdicts.Tail).
* either(...): the RFCs allow more than one reading. Typical cases are a bare
  CR, NUL or LF that a recipient may replace or accept (RFC 9112 §2.2,
  RFC 9110 §5.5), and CL with TE (RFC 9112 §6.1). Each reading listed is
  accepted. Any reading that frames a smuggled request is not listed.

IDs are S<n> (server bugs), T<n> (transducer bugs), B<n> (bonus bugs) and
BB<n> (bonus bonus bugs), numbered as in TROPHIES.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from verdicts import Case, Expect, Outcome, Tail, answer, refuse

REJECT = (refuse(0),)
REJECT_CLOSE = (refuse(0, Tail.REFUSE_CLOSE),)
CLOSE, PENDING, NOT_A_REQUEST = Tail.CLOSE, Tail.PENDING, Tail.NOT_A_REQUEST


def either(*outcomes: Outcome | tuple[Outcome, ...]) -> tuple[Outcome, ...]:
    flat: list[Outcome] = []
    for o in outcomes:
        flat.extend(o if isinstance(o, tuple) else (o,))
    return tuple(flat)


@dataclass(frozen=True)
class Verdict:
    outcomes: tuple[Outcome, ...]
    why: str
    host: bool = False
    """The payload has no Host field. `Host: localhost` is added as the last
    field of its first header section; otherwise RFC 9112 §3.2 alone would
    make it a 400."""


def V(outcomes: Outcome | tuple[Outcome, ...], why: str, host: bool = False) -> Verdict:
    return Verdict(outcomes if isinstance(outcomes, tuple) else (outcomes,), why, host)


BARE_CR = "RFC 9112 §2.2: a bare CR is invalid, or is replaced by SP before the message is processed"
NUL = "RFC 9110 §5.5: a field value with NUL is rejected, or each NUL is replaced by SP"

EXPECT: dict[str, Verdict] = {
    # --- Server bugs
    "S1": V(REJECT_CLOSE, "RFC 9112 §7.1: chunk-size is 1*HEXDIG, and `0_2e` is not one. The GET after it is body"),
    "S2": V(either(REJECT, answer(1)), f"{NUL}; {BARE_CR}"),
    "S3": V(REJECT, "RFC 9112 §5.1: whitespace between field name and colon MUST get 400. The GET after it must not be answered"),
    "S4": V(either(REJECT, answer(1, NOT_A_REQUEST)),
            "RFC 9112 §2.2: whitespace before the first field line is rejected, or that line is consumed unprocessed. "
            "Then there is no Content-Length, and `X` is not a request", host=True),
    "S5": V(REJECT, "RFC 9112 §2.3: HTTP-version is HTTP/DIGIT.DIGIT; `1.32` is invalid (400, or 505)", host=True),
    "S6": V(REJECT, "RFC 9110 §9.1, §5.6.2: a method is a token; `\"` `:` `<` `(` `,` `[` `;` `?` are delimiters (RFC 9112 §3: 400)", host=True),
    "S7": V(REJECT, "RFC 9112 §3.2: `!` is none of the four request-target forms", host=True),
    "S8": V(REJECT, "RFC 9110 §5.1: a field name is a token; \\xef is not a tchar", host=True),
    "S9": V(REJECT, "RFC 9112 §3: a bare LF is not a request-line separator; read as a line end, `GET /` has no version and `HTTP/1.1` no colon", host=True),
    "S10": V(REJECT_CLOSE, "RFC 9110 §8.6: Content-Length is 1*DIGIT; RFC 9112 §6.3 (5): an invalid one is 400 and close"),
    "S11": V(REJECT_CLOSE, "RFC 9112 §6.1: chunked MUST NOT be applied twice; §6.3 (4): the length cannot be determined (400 or 501, close)", host=True),
    "S12": V(REJECT_CLOSE, "RFC 9112 §6.3 (4): `\\xa0chunked\\xa0` is not chunked, so chunked is not final: 400 and close (or 501, §6.1)"),
    "S13": V(either(REJECT, answer(1)), BARE_CR),
    "S14": V(REJECT, "RFC 9110 §5.1: a field name is a token; controls, SP and delimiters are not tchars", host=True),
    "S15": V(REJECT, "RFC 9112 §2.3: `HTTP/\\r\\r1.1` is not an HTTP-version", host=True),
    "S16": V(REJECT_CLOSE, "RFC 9110 §8.6: an empty Content-Length is invalid; RFC 9112 §6.3 (5): 400 and close"),
    "S17": V(REJECT_CLOSE, "RFC 9112 §7.1: an empty chunk-size is invalid (1*HEXDIG)"),
    "S18": V(REJECT, "RFC 9110 §5.1: a field name is a token of at least one tchar; `: ignored` has none"),
    "S19": V(either(REJECT, refuse(1)),
             "RFC 9112 §2.2: a bare LF is invalid, or read as a line end (a recipient MAY). Read as a line end, the header "
             "section ends at `\\n\\n`, and the GET after it has no Host (§3.2: 400)"),
    "S20": V(REJECT, "RFC 9110 §5.1: \\x85 is not a tchar, so `Content-Length\\x85` is no field name; its `body` is never a request"),
    "S21": V(either(REJECT_CLOSE, answer(1, CLOSE)),
             "RFC 9110 §5.6.1: `,chunked` is chunked. RFC 9112 §6.1: with Content-Length too, the server MAY refuse, or "
             "frame by Transfer-Encoding alone, and MUST close after answering"),
    "S23": V(REJECT_CLOSE, "RFC 9112 §6.3 (5): differing Content-Length values are invalid: 400 and close"),
    "S24": V(REJECT, "RFC 9112 §2.3: HTTP-version is HTTP/DIGIT.DIGIT (400, or 505)", host=True),
    "S26": V(REJECT_CLOSE, "RFC 9110 §8.6: Content-Length is 1*DIGIT; `-48` is invalid (RFC 9112 §6.3 (5): 400 and close)"),
    "S27": V(REJECT, "RFC 9110 §5.1: `:` alone has an empty field name, which is not a token", host=True),
    "S28": V(REJECT, "RFC 9112 §5: a field line needs a colon; `Content-Length 10` is invalid, and its `body` is never a request", host=True),
    "S29": V(REJECT_CLOSE, "RFC 9110 §8.6: `1Z` is not 1*DIGIT (RFC 9112 §6.3 (5): 400 and close)", host=True),
    "S30": V(REJECT, f"{BARE_CR}. Either way the header section is invalid (as SP, the line is obs-fold with a second Host, §5.2, §3.2); /evil is never answered"),
    "S31": V(REJECT_CLOSE, "RFC 9112 §7.1: a chunk-size line ends in CRLF; `5\\r\\r` does not, so the GET after it is body"),
    "S32": V(answer(0, PENDING), "RFC 9110 §8.6: `010` is decimal 10 (leading zeros are DIGITs); only 8 body bytes are sent"),
    "S33": V(REJECT_CLOSE, "RFC 9112 §6.3 (5): differing Content-Length values are invalid: 400 and close"),
    "S34": V(either(REJECT, answer(1)), BARE_CR),
    "S35": V(either(REJECT, answer(1, CLOSE)), f"{NUL}. The request has `Connection: close` (RFC 9112 §9.6)"),
    "S36": V(REJECT_CLOSE, "RFC 9112 §7.1.1: BWS in a chunk-ext is SP/HTAB; the bare CR ends no chunk line, so /bad_path/pwned is body"),
    "S37": V(REJECT, "RFC 9112 §5: `Transfer-` has no colon, so it is not a field line; §5.2: no folding of field names"),
    "S38": V(REJECT_CLOSE, "RFC 9110 §8.6: an empty Content-Length is invalid; RFC 9112 §6.3 (5): 400 and close"),
    "S39": V(answer(1), "RFC 9112 §7.1.2: `X:POST / HTTP/1.1` is a trailer field after the last chunk; one request", host=True),
    "S40": V(REJECT, "RFC 9110 §9.1: NUL is not a method token; RFC 9112 §2.3: not an HTTP-version", host=True),
    "S41": V(answer(1), "RFC 9110 §5.5: obs-text (\\x80-\\xff) is allowed in a field value"),
    "S42": V(REJECT_CLOSE, "RFC 9112 §6.3 (5): an empty Content-Length next to `43` is invalid: 400 and close; /evil is never answered", host=True),
    "S43": V(either(REJECT, answer(1)), NUL, host=True),
    "S44": V(REJECT_CLOSE, "RFC 9112 §6.3 (4): Transfer-Encoding without final chunked: 400 and close (or 501, §6.1)"),
    "S45": V(answer(1, CLOSE), "RFC 9112 §9.6: after a request with `close`, the server MUST NOT process more; `Invalid` is ignored", host=True),
    "S46": V(REJECT_CLOSE, "RFC 9112 §3.2: an invalid Host value MUST get 400; §6.3 (4): `\\xffchunked\\xff` is not chunked, so close"),
    "S47": V(REJECT_CLOSE, "RFC 9112 §7.1: `INVALID!!!` is no chunk-size; the GET after it is never answered"),
    "S48": V(answer(2), "RFC 9112 §6.2: the second POST's 34-byte body is the GET in the next segment; two requests"),
    # --- Transducer bugs (each payload judged as a request to an origin server)
    "T1": V(REJECT_CLOSE, "RFC 9110 §8.6: `0x10` is not 1*DIGIT (RFC 9112 §6.3 (5): 400 and close)"),
    "T2": V(REJECT_CLOSE, "RFC 9112 §7.1: `Z` is not a chunk-size"),
    "T3": V(REJECT_CLOSE, "RFC 9112 §7.1: a bare CR before `;` ends no chunk line; /bad_path/pwned is body"),
    "T4": V(REJECT_CLOSE,
            "RFC 9112 §3: one SP between request-line parts (a recipient MAY split on whitespace), then §7.1: `1\\r0\\n` is no chunk line",
            host=True),
    "T5": V(REJECT_CLOSE, "RFC 9110 §8.6: an empty Content-Length is invalid; RFC 9112 §6.3 (5): 400 and close"),
    "T6": V(REJECT, "RFC 9110 §5.1: \\x85 is not a tchar"),
    "T7": V(REJECT_CLOSE, "RFC 9112 §7.1.1: a chunk-ext starts with `;`; `1these-...` is no chunk line", host=True),
    "T9": V(answer(1), "RFC 9110 §5.6.1: a recipient MUST ignore empty list elements, so `,chunked` is chunked; `0` ends the body"),
    "T10": V(either(REJECT, answer(1)), BARE_CR, host=True),
    "T11": V(REJECT_CLOSE, "RFC 9112 §6.3 (5): an empty Content-Length next to `59` is invalid: 400 and close; /evil is never answered"),
    "T12": V(REJECT, f"{NUL}; as SP, `google.com .kallus.org` is an invalid Host (RFC 9112 §3.2: 400)"),
    "T13": V(REJECT_CLOSE, "RFC 9112 §7.1: chunk data ends in CRLF; the §2.2 bare-LF latitude is for the start-line and fields", host=True),
    "T14": V(REJECT, "RFC 9112 §2.2: a bare LF is invalid, or a line end, and then `Te` is a field line without a colon (§5)"),
    "T15": V(REJECT_CLOSE,
             "RFC 9112 §6.1: with TE and CL, Transfer-Encoding wins (`,chunked` is chunked, RFC 9110 §5.6.1), and `0r` is no "
             "chunk-size; framing by CL instead is the smuggling"),
    "T16": V(either(REJECT, answer(1, CLOSE)), "RFC 9112 §2.2: a recipient MAY take a bare LF as a line end; the request has `Connection: close`"),
    "T17": V(REJECT_CLOSE, "RFC 9112 §7.1: the empty line after the 0x17-byte chunk is no chunk-size"),
    "T19": V(REJECT_CLOSE, "RFC 9112 §7.1: `-0x0` is not 1*HEXDIG", host=True),
    "T20": V(REJECT, "RFC 9112 §5: `c\\x00` has no colon, so it is not a field line", host=True),
    "T21": V(answer(1), "RFC 9112 §6.2: Content-Length frames a GET body as any other; the body is not a request", host=True),
    "T22": V(REJECT_CLOSE, "RFC 9112 §6.3 (5): Content-Length 0 and 31 differ: 400 and close; GET /evil is body, never answered"),
    "T23": V(either(REJECT_CLOSE, answer(1, CLOSE)),
             "RFC 9112 §6.1: with TE and CL, the server MAY refuse, or frame by chunked alone, and MUST close after answering"),
    "T24": V(REJECT_CLOSE, "RFC 9112 §7.1: chunk-size is 1*HEXDIG with no leading whitespace"),
    "T25": V(REJECT_CLOSE, "RFC 9112 §6.1: chunked MUST NOT be applied twice; §6.3 (4): the length cannot be determined (400 or 501, close)"),
    # --- Bonus bugs (crashes, echoes): the payloads themselves are plain requests
    "B3": V(answer(1, NOT_A_REQUEST), "RFC 9112 §7.1: a complete chunked request; the \\x00 after it is not a request"),
    "B4": V(answer(1), "RFC 9112 §7.1: a complete chunked request; nothing may come back before its response"),
    # --- Bonus bonus bugs: HTTP/2 prior-knowledge prefaces sent to an HTTP/1.1 server
    "BB1": V(REJECT, "RFC 9113 §3.4: the preface is for servers that speak HTTP/2; RFC 9112 §2.3: 2.0 is not served here (400 or 505)"),
    "BB2": V(REJECT, "RFC 9113 §3.4: the preface is for servers that speak HTTP/2; RFC 9112 §2.3: 2.0 is not served here (400 or 505)"),
}

SKIP: dict[str, str] = {
    "S22": "same payload as S1",
    "S25": "the payload ends after its header section, so no chunk-size is ever sent",
    "T18": "same payload as S21",
    "B1": "no bytes: the bug needs a proxy_fcgi backend",
    "B2": "no bytes: any request",
    "B5": "no bytes: any request",
}

SECTIONS = (("### Server Bugs", "S"), ("## Transducer Bugs", "T"), ("## Bonus bugs", "B"), ("## Bonus Bonus Bugs", "BB"))
HOST_LINE = b"Host: localhost\r\n"


def decode(payload: str) -> bytes:
    """A TROPHIES.md payload: text with \\r, \\n, \\t and \\xHH escapes."""
    named = {"r": "\r", "n": "\n", "t": "\t"}
    text = re.sub(r"\\([rnt]|x[0-9a-fA-F]{2})",
                  lambda m: named.get(m.group(1)) or chr(int(m.group(1)[1:], 16)), payload)
    return text.encode("latin-1")


def read_trophies(path: Path) -> list[tuple[str, str, tuple[bytes, ...]]]:
    """(id, title, payload parts) for every numbered entry, in file order.

    The parts are the backquoted strings on the entry's Payload line; there
    are none where the payload is prose.
    """
    entries: list[tuple[str, str, tuple[bytes, ...]]] = []
    prefix = None
    for line in path.read_text(encoding="utf-8").split("\n"):
        for heading, letter in SECTIONS:
            if line.startswith(heading):
                prefix = letter
        if prefix and (m := re.match(r"(\d+)\. (.*)", line)):
            entries.append((f"{prefix}{m.group(1)}", m.group(2), ()))
        elif entries and (m := re.match(r"\s+- Payload: (.*)", line)):
            case_id, title, _ = entries[-1]
            entries[-1] = (case_id, title, tuple(decode(p) for p in re.findall(r"`([^`]*)`", m.group(1))))
    return entries


def add_host(parts: tuple[bytes, ...]) -> tuple[bytes, ...]:
    """Puts `Host: localhost` before the empty line that ends the first header section."""
    first = parts[0]
    end = first.find(b"\r\n\r\n")
    head = first[:end] if end >= 0 else b""
    if end < 0 or re.search(rb"(?im)^host[ \t]*:", head):
        raise ValueError("host=True needs a payload with a header section and no Host field")
    return (first[:end + 2] + HOST_LINE + first[end + 2:],) + parts[1:]


def load(data_dir: Path) -> list[Case]:
    """Every TROPHIES.md entry, in file order."""
    cases = []
    entries = read_trophies(data_dir / "http-garden" / "TROPHIES.md")
    unknown = {e[0] for e in entries} ^ (EXPECT.keys() | SKIP.keys())
    if unknown:
        raise ValueError(f"TROPHIES.md and EXPECT/SKIP disagree on {sorted(unknown)}")
    for case_id, title, parts in entries:
        if case_id in SKIP:
            cases.append(Case(case_id, title, skip=SKIP[case_id]))
            continue
        verdict = EXPECT[case_id]
        notes: tuple[str, ...] = ()
        if verdict.host:
            parts, notes = add_host(parts), ("added a Host field",)
        cases.append(Case(case_id, title, parts, Expect(verdict.outcomes, verdict.why), notes=notes))
    return cases
