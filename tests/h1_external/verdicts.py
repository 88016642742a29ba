"""What a case is, what it expects from the server, and how an exchange is judged.

A case's expectation is a small set of acceptable outcomes (`Outcome`). Each
outcome gives how many requests must be answered normally first, and what must
happen after them (`Tail`). An exchange passes if it matches any one of them.

Replies are sorted by status code:

* A *refusal* is 400, 411, 413, 414, 417, 431, 505, or any other 5xx.
* Every other status is a *normal* answer: 2xx, 3xx, 404, 405, ... The server
  parsed the request and handled it as a request, even if it did not like it.
* 501 is both. An origin server answers 501 to a method it does not know
  (RFC 9110 §9.1, §15.6.2) and to a transfer coding it does not know
  (RFC 9112 §6.1).

Interim (1xx) responses are dropped before any of this.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

REFUSAL_4XX = frozenset({400, 411, 413, 414, 417, 431})


def is_refusal(status: int) -> bool:
    """The server would not, or could not, process the request."""
    return status in REFUSAL_4XX or 500 <= status <= 599


def is_normal(status: int) -> bool:
    """The request was parsed and handled as a request."""
    return not is_refusal(status) or status == 501


class Tail(enum.Enum):
    """What must follow an outcome's normal answers."""

    IDLE = "nothing more is answered"
    """Nothing else arrives. The connection may stay open or be closed."""

    PENDING = "nothing more is answered and the connection stays open"
    """A valid message is still unfinished, so the server must wait for the
    rest of it: no reply, and no close within the read window."""

    CLOSE = "then the server closes and answers nothing more"
    """The last answered request ends the connection. That happens with a
    `close` option (RFC 9112 §9.6), or with HTTP/1.0 and no keep-alive (§9.3).
    Anything sent after it is ignored."""

    REFUSE = "then the next message is refused (refusal or close) and nothing more is answered"
    """The next message is invalid. The server either sends one refusal and
    nothing after it, or closes without a reply."""

    REFUSE_CLOSE = "then the next message is refused and the connection closed"
    """As REFUSE, but the body framing is lost, so the server must also close.
    RFC 9112 §6.3 requires this for an invalid Content-Length and for a
    Transfer-Encoding without a final chunked, and §6.1 for CL with TE. In
    every such case, the bytes that follow cannot be told apart from a body."""

    NOT_A_REQUEST = "then the bytes left are refused, closed on, or waited on, but never answered normally"
    """The bytes left are not a request. Refusing them, closing, and waiting
    for more are all acceptable."""

    CONNECT_REFUSED = "then the CONNECT is refused (any 4xx/5xx) or dropped, and the connection closed"
    """An origin server that does not tunnel refuses CONNECT, typically with
    405 or 501 (RFC 9110 §9.3.6), and closes. The bytes after the CONNECT
    header section are never answered as a request."""


@dataclass(frozen=True)
class Outcome:
    """`answers` normal replies, then `tail`."""

    answers: int
    tail: Tail

    def describe(self) -> str:
        return f"{self.answers} normal answer(s), {self.tail.value}"


def answer(n: int = 1, then: Tail = Tail.IDLE) -> Outcome:
    return Outcome(n, then)


def refuse(after: int = 0, then: Tail = Tail.REFUSE) -> Outcome:
    """`after` normal answers, then a refused message."""
    return Outcome(after, then)


@dataclass(frozen=True)
class Expect:
    """The outcomes a case accepts, and why."""

    outcomes: tuple[Outcome, ...]
    why: str = ""
    rfc_allows: tuple[Outcome, ...] = ()
    """Outcomes accepted only because the RFCs leave room that the source's
    own verdict does not (left out under --strict-llhttp)."""
    rfc_why: str = ""
    known_refusal: str = ""
    """Set when Debian's llhttp 8.1 refuses this valid input. A refusal then
    passes too (reported as such). A mis-framing never does."""


@dataclass
class Observed:
    """What came back on one connection."""

    statuses: list[int]
    """Final (non-1xx) status codes, in order."""
    closed: bool
    """The server closed (EOF or reset) within the read window."""
    problem: str = ""
    """Set if the bytes received are not a well-formed stream of HTTP/1.1 responses."""


def check(outcome: Outcome, seen: Observed) -> str:
    """Returns "" if `seen` matches `outcome`, else why not."""
    n, got, tail = outcome.answers, seen.statuses, outcome.tail
    if len(got) < n:
        return f"{len(got)} answer(s) where {n} normal one(s) were due"
    for i, status in enumerate(got[:n]):
        if not is_normal(status):
            return f"answer {i + 1} is {status}, a refusal, where a normal answer was due"
    rest = got[n:]
    if tail is Tail.IDLE:
        return f"extra answer(s) {rest} after the {n} due" if rest else ""
    if tail is Tail.PENDING:
        if rest:
            return f"answer(s) {rest} to a message that is not finished"
        return "closed while a valid message was unfinished" if seen.closed else ""
    if tail is Tail.CLOSE:
        if rest:
            return f"answer(s) {rest} to bytes after the connection should have ended"
        return "" if seen.closed else "the connection was left open where it must close"
    if tail in (Tail.REFUSE, Tail.REFUSE_CLOSE):
        if len(rest) > 1:
            return f"answers {rest} after the message that must be refused"
        if rest and not is_refusal(rest[0]):
            return f"{rest[0]}: the message that must be refused was answered normally"
        if not seen.closed and (tail is Tail.REFUSE_CLOSE or not rest):
            return "refused but the connection was left open" if rest else "neither refused nor closed: the server waits for more"
        return ""
    if tail is Tail.NOT_A_REQUEST:
        if len(rest) > 1 or (rest and not is_refusal(rest[0])):
            return f"answer(s) {rest} to bytes that are not a request"
        return ""
    if tail is Tail.CONNECT_REFUSED:
        if len(rest) > 1 or (rest and rest[0] < 400):
            return f"answer(s) {rest}: CONNECT must be refused, and nothing after it answered"
        return "" if seen.closed else "the connection was left open after CONNECT"
    raise AssertionError(tail)


def judge(expect: Expect, seen: Observed, strict: bool = False) -> tuple[bool, str]:
    """Returns (passed, detail). On a pass, the detail names the allowance used, if any."""
    if seen.problem:
        return False, seen.problem
    reasons = [check(o, seen) for o in expect.outcomes]
    if "" in reasons:
        return True, ""
    if not strict and any(not check(o, seen) for o in expect.rfc_allows):
        return True, f"RFC allows it: {expect.rfc_why}"
    if expect.known_refusal and not check(refuse(0), seen):
        return True, f"expected llhttp 8.1 refusal: {expect.known_refusal}"
    wanted = [o.describe() for o in expect.outcomes]
    if not strict:
        wanted += [o.describe() for o in expect.rfc_allows]
    if expect.known_refusal:
        wanted.append(refuse(0).describe())
    return False, f"{reasons[0]} (expected {' or '.join(wanted)})"


@dataclass
class Case:
    """One exchange to replay on a fresh connection, with its verdict."""

    id: str
    title: str
    parts: tuple[bytes, ...] = ()
    """The bytes to send. Each part after the first goes out after a short
    pause, so it arrives in a later read."""
    expect: Expect | None = None
    skip: str = ""
    """Why the case is not run. If set, `parts` and `expect` may be empty."""
    head_replies: frozenset[int] = frozenset()
    """Indexes of the replies to HEAD requests, which carry no body."""
    notes: tuple[str, ...] = ()
    """What the harness changed in the bytes, for the report."""

    @property
    def data(self) -> bytes:
        return b"".join(self.parts)
