"""HTTP/1.1 for one JSON POST at a time, bytes in and bytes out: both clients' wire.

The sync and async transports (``_sync``, ``_aio``) own sockets, pools and
timeouts; this module owns the protocol, once: the request head, and a
``ReplyReader`` that is fed what arrives and returns the reply's head and then
its body a piece at a time (``None``: feed me more). It follows RFC 9112 as h11
(httpcore's parser) reads it, and the tests hold it to h11 on every valid reply
in any segmentation:

- 1xx replies are skipped (101 is an error: nobody asked to switch); 204, 304
  and a reply to HEAD have no body; then ``Transfer-Encoding: chunked`` (only
  that coding), else ``Content-Length`` (every value equal), else read to close;
- a connection may carry another request only when its reply was read to the
  end, neither side asked to close, it spoke HTTP/1.1, and no byte followed;
- heads and trailers over 64 KiB, chunk lines over 4 KiB, and any line that
  does not fit the grammar are errors, found in linear time.

No httpx here: errors are ``ReplyError`` (``lost`` when the connection broke
rather than closed) and ``RequestError``, which the transports translate.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "END",
    "MAX_HEAD",
    "End",
    "Head",
    "ReplyError",
    "ReplyReader",
    "RequestError",
    "chunked",
    "request_head",
]

# A status line and headers larger than this are an attack, not a reply
# (h11 allows 16 KiB by default, httpcore 100 KiB).
MAX_HEAD: Final = 64 * 1024
_MAX_CHUNK_LINE: Final = 4096

# The blank line ending the head, as h11 finds it: the last header line keeps
# its own CR, which the line patterns below then allow once.
_HEAD_END: Final = re.compile(rb"\n\r?\n")
# The grammar of RFC 9110/9112 as h11 reads it (VCHAR, obs-text, SP and HTAB
# in values; no other control character), a bare LF accepted as a line end.
# Every pattern is unambiguous (no two parts can match the same byte), so a
# hostile line costs linear time: a lazy value followed by optional spaces
# backtracks quadratically, and would stall an event loop for seconds.
_STATUS: Final = re.compile(rb"HTTP/1\.([01]) ([0-9]{3})(?: ([\t\x20-\x7e\x80-\xff]*))?\r?")
_HEADER: Final = re.compile(
    rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*"
    rb"((?:[\x21-\x7e\x80-\xff]+(?:[ \t]+[\x21-\x7e\x80-\xff]+)*)?)[ \t]*\r?"
)
# chunk-size [ chunk-ext ] CRLF; spaces after the size tolerated like h11.
_CHUNK_SIZE: Final = re.compile(rb"([0-9A-Fa-f]{1,16})(?:;[^\r\n]*|[ \t]*)\r")
_BAD_OUTGOING: Final = re.compile(rb"[\x00\r\n]")
_DIGITS: Final = re.compile(rb"[0-9]{1,18}")

# How a body ends (RFC 9112 section 6.3), and where a chunked one is.
_EMPTY: Final = 0
_LENGTH: Final = 1
_CHUNKED: Final = 2
_TO_CLOSE: Final = 3
_SIZE: Final = 0
_DATA: Final = 1
_CRLF: Final = 2
_TRAILER: Final = 3


class ReplyError(Exception):
    """The reply broke the protocol, or (``lost``) the connection broke under it."""

    def __init__(self, message: str, *, lost: bool = False) -> None:
        super().__init__(message)
        self.lost = lost


class RequestError(Exception):
    """The request cannot be written as HTTP/1.1 (a CR, LF or NUL where none may be)."""


class End:
    """The type of ``END``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "END"


END: Final = End()
"""What ``ReplyReader.body`` returns once the body is complete."""

Head = tuple[int, int, bytes, list[tuple[bytes, bytes]]]
"""A final reply's HTTP minor version, status, reason and headers."""


def request_head(method: str, target: bytes, headers: list[tuple[bytes, bytes]]) -> bytes:
    """The request line and headers; a body is sent after them as is (Content-Length)."""
    try:
        raw_method = method.encode("ascii")
    except UnicodeEncodeError:
        raise RequestError("the request method is not ASCII") from None
    if _BAD_OUTGOING.search(target) or _BAD_OUTGOING.search(raw_method) or b" " in raw_method:
        raise RequestError("the request line holds a forbidden character")
    lines = [raw_method, b" ", target, b" HTTP/1.1\r\n"]
    for name, value in headers:
        # Refuse what would split a header line: the wire must say what the caller said.
        if _BAD_OUTGOING.search(name) or _BAD_OUTGOING.search(value) or b":" in name:
            raise RequestError("a request header holds a forbidden character")
        lines += (name, b": ", value, b"\r\n")
    lines.append(b"\r\n")
    return b"".join(lines)


def chunked(body: bytes) -> bytes:
    """``body`` as one chunk and the last chunk (for a request sent chunked)."""
    return (b"%x\r\n%s\r\n" % (len(body), body) if body else b"") + b"0\r\n\r\n"


def _fields(headers: list[tuple[bytes, bytes]]) -> tuple[list[bytes], list[bytes], bool]:
    """The Content-Length values, the transfer codings and whether to keep the connection.

    Checked as h11 checks every header block (a 1xx reply's and the trailer
    too): one plain "chunked" coding at most (a body in another coding would
    reach the caller still coded), and Content-Length values all equal digits.
    """
    lengths: list[bytes] = []
    codings: list[bytes] = []
    keep = True
    for name, value in headers:
        lower = name.lower()
        if lower == b"content-length":
            lengths += (part.strip() for part in value.split(b","))
        elif lower == b"transfer-encoding":
            codings += (part.strip().lower() for part in value.split(b","))
        elif lower == b"connection" and b"close" in (
            part.strip().lower() for part in value.split(b",")
        ):
            keep = False
    if codings and codings != [b"chunked"]:
        raise ReplyError("unsupported Transfer-Encoding in the reply")
    if lengths and (len(set(lengths)) != 1 or not _DIGITS.fullmatch(lengths[0])):
        raise ReplyError("invalid Content-Length in the reply")
    return lengths, codings, keep


def _framing(
    status: int, headers: list[tuple[bytes, bytes]], method: str
) -> tuple[int, int, bool]:
    """How the body ends, its length (for ``_LENGTH``), and whether the connection may stay."""
    lengths, codings, keep = _fields(headers)
    if status in (204, 304) or method == "HEAD":
        # No body whatever the headers say; a declared one would sit on the wire.
        return _EMPTY, 0, keep and not lengths and not codings
    if codings:
        # With both, Transfer-Encoding wins and the connection must close (RFC 9112 6.3).
        return _CHUNKED, 0, keep and not lengths
    if lengths:
        length = int(lengths[0])
        return (_LENGTH, length, keep) if length else (_EMPTY, 0, keep)
    return _TO_CLOSE, 0, False


def _one_length(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    # As h11 gives them: one Content-Length field, its single value, where the
    # first one was ("2, 2" twice becomes "2" once). Checked equal already.
    lengths = [i for i, (name, _) in enumerate(headers) if name.lower() == b"content-length"]
    if not lengths or (len(lengths) == 1 and b"," not in headers[lengths[0]][1]):
        return headers
    first = lengths[0]
    name, value = headers[first]
    single = (name, value.split(b",")[0].strip())
    return [
        single if i == first else field
        for i, field in enumerate(headers)
        if i == first or i not in lengths
    ]


class ReplyReader:
    """One connection's incoming bytes, read as replies (one per request).

    ``feed`` what arrives and ``close`` at the end of the stream (with the
    error, if it broke). ``head()`` returns the final reply's head, or None
    until enough has arrived; then ``body()`` returns the next piece, None
    until more arrives, and ``END`` when the body is complete. ``start`` readies
    it for the next request's reply on the same connection.
    """

    __slots__ = (
        "_framing",
        "_left",
        "_scanned",
        "_state",
        "_trailer",
        "buffer",
        "complete",
        "eof",
        "error",
        "keep",
        "method",
    )

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self.start("POST")

    def start(self, method: str) -> None:
        """Expect the reply to a ``method`` request."""
        self.method = method
        self.complete = False
        self.keep = False
        self._framing = -1
        self._scanned = 0
        self._left = 0
        self._state = _SIZE
        self._trailer = 0

    def feed(self, data: bytes) -> None:
        """Bytes that arrived."""
        self.buffer += data

    def close(self, error: BaseException | None = None) -> None:
        """The stream ended: closed by the peer, or broken by ``error``."""
        self.eof = True
        if error is not None:
            self.error = error

    @property
    def reusable(self) -> bool:
        """Whether the connection may carry the next request."""
        return self.complete and self.keep and not self.eof and not self.buffer

    def take(self, limit: int) -> bytes:
        """Up to ``limit`` buffered bytes, removed from the buffer."""
        data = bytes(self.buffer[:limit])
        del self.buffer[:limit]
        return data

    def _ended(self, what: str) -> ReplyError:
        if self.error is not None:
            # A reset is a network failure (retried), not a malformed reply.
            return ReplyError(f"the connection was lost: {self.error}", lost=True)
        return ReplyError(f"peer closed connection without sending {what}")

    # -- the head -----------------------------------------------------------------

    def head(self) -> Head | None:
        """The final reply's head (1xx replies skipped), or None: feed more."""
        while True:
            end = _HEAD_END.search(self.buffer, max(self._scanned - 3, 0))
            if end is None:
                self._scanned = len(self.buffer)
                if self._scanned > MAX_HEAD:
                    raise ReplyError("the reply's headers are too large")
                if self.eof:
                    if self.error is not None:
                        raise self._ended("a reply")
                    if self.buffer:
                        raise ReplyError("the connection closed in the reply's headers")
                    raise ReplyError("Server disconnected without sending a response.")
                return None
            self._scanned = 0
            if end.start() > MAX_HEAD:
                raise ReplyError("the reply's headers are too large")
            lines = self.take(end.end())[: end.start()].split(b"\n")
            status_line = _STATUS.fullmatch(lines[0])
            if status_line is None:
                raise ReplyError("the reply does not start with an HTTP/1 status line")
            status = int(status_line[2])
            if status < 100:
                raise ReplyError("the reply's status code is below 100")
            headers: list[tuple[bytes, bytes]] = []
            for line in lines[1:]:
                field = _HEADER.fullmatch(line)
                if field is None:
                    raise ReplyError("the reply holds an invalid header line")
                headers.append((field[1], field[2]))
            if status == 101:
                raise ReplyError("the server switched protocols unasked")
            if status < 200:
                # An interim reply (100 Continue, 103 Early Hints): checked, and
                # the final one follows.
                _fields(headers)
                continue
            version = int(status_line[1])
            self._framing, self._left, keep = _framing(status, headers, self.method)
            self.keep = keep and version == 1
            self.complete = self._framing == _EMPTY
            return version, status, status_line[3] or b"", _one_length(headers)

    # -- the body -----------------------------------------------------------------

    def body(self) -> bytes | End | None:
        """The next piece of the body, None (feed more), or ``END``."""
        if self.complete:
            return END
        framing = self._framing
        if framing == _LENGTH:
            piece = self._exactly("complete message body")
            if self._left == 0:
                self.complete = True
            return piece if piece is not None else None
        if framing == _TO_CLOSE:
            if self.buffer:
                return self.take(len(self.buffer))
            if not self.eof:
                return None
            if self.error is not None:
                raise self._ended("complete message body")  # reset, not closed
            self.complete = True
            return END
        return self._chunked()

    def _exactly(self, what: str) -> bytes | None:
        if self.buffer:
            piece = self.take(self._left)
            self._left -= len(piece)
            return piece
        if self.eof:
            raise self._ended(what)
        return None

    def _line(self, limit: int) -> bytes | None:
        end = self.buffer.find(b"\n", self._scanned, limit + 1)
        if end >= 0:
            self._scanned = 0
            return self.take(end + 1)[:-1]
        self._scanned = len(self.buffer)
        if self._scanned > limit:
            raise ReplyError("a chunk header or trailer is too long")
        if self.eof:
            raise self._ended("complete message body: incomplete chunked read")
        return None

    def _chunked(self) -> bytes | End | None:
        # chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF (RFC 9112 7.1)
        while True:
            state = self._state
            if state == _SIZE:
                line = self._line(_MAX_CHUNK_LINE)
                if line is None:
                    return None
                match = _CHUNK_SIZE.fullmatch(line)
                if match is None:
                    raise ReplyError("invalid chunk header in the reply")
                self._left = int(match[1], 16)
                self._state = _DATA if self._left else _TRAILER
            elif state == _DATA:
                piece = self._exactly("complete message body: incomplete chunked read")
                if piece is None:
                    return None
                if self._left == 0:
                    self._state = _CRLF
                return piece
            elif state == _CRLF:
                if len(self.buffer) < 2:
                    if self.eof:
                        raise self._ended("complete message body: incomplete chunked read")
                    return None
                if self.take(2) != b"\r\n":
                    raise ReplyError("missing CRLF after a chunk")
                self._state = _SIZE
            else:
                # Trailer fields, checked like headers and ignored, up to the blank line.
                line = self._line(MAX_HEAD)
                if line is None:
                    return None
                if line in (b"", b"\r"):
                    self.complete = True
                    return END
                self._trailer += len(line)
                if self._trailer > MAX_HEAD:
                    raise ReplyError("the reply's trailer is too large")
                field = _HEADER.fullmatch(line)
                if field is None:
                    raise ReplyError("the reply holds an invalid trailer line")
                _fields([(field[1], field[2])])
