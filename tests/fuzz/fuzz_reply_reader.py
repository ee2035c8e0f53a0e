"""Atheris target: ``_http11.ReplyReader`` on arbitrary bytes, fed in arbitrary pieces.

The input's first byte seeds where the rest is cut into pieces (the reader
must not care), then the rest is what a server sent, followed by the end of
the stream. The property, ``check``: reading it either ends in a complete
reply or raises ``ReplyError`` (never another exception, never a hang:
libFuzzer's ``-timeout`` catches a slow pattern), and a reply read from
pieces is the reply read in one piece. ``tests/test_sync_transport.py``
replays ``tests/fuzz/reader_corpus/`` through ``check`` in the normal suite.

    python tests/fuzz/fuzz_reply_reader.py -max_total_time=60 \\
        scratch/ tests/fuzz/reader_corpus/
"""

from __future__ import annotations

import sys

from cognito_raw._http11 import END, ReplyError, ReplyReader

Outcome = tuple[int, list[tuple[bytes, bytes]], bytes] | str


def read(pieces: list[bytes]) -> Outcome:
    """The reply in ``pieces`` (then the end of the stream), or why it was refused."""
    reader = ReplyReader()
    pending = list(pieces)
    try:
        while (head := reader.head()) is None:
            if pending:
                reader.feed(pending.pop(0))
            elif not reader.eof:
                reader.close()
            else:  # pragma: no cover - head() raises at the end of the stream
                raise AssertionError("head() wants more after the end")
        _, status, _, headers = head
        body = bytearray()
        while (piece := reader.body()) is not END:
            if isinstance(piece, bytes):
                assert piece, "an empty piece"
                body += piece
            elif pending:
                reader.feed(pending.pop(0))
            elif not reader.eof:
                reader.close()
            else:  # pragma: no cover - body() raises at the end of the stream
                raise AssertionError("body() wants more after the end")
    except ReplyError as exc:
        return f"refused: {type(exc).__name__}"
    return status, headers, bytes(body)


def check(data: bytes) -> None:
    """The property (see the module docstring)."""
    if not data:
        return
    seed, wire = data[0], data[1:]
    step = seed % 7 + 1
    pieces = [wire[i : i + step] for i in range(0, len(wire), step)]
    whole = read([wire])
    assert read(pieces) == whole, (pieces, whole)


def main() -> None:
    import atheris  # type: ignore[import-untyped]  # only the fuzzer needs it

    atheris.instrument_all()
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
