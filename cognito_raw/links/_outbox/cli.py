"""``cognito-raw outbox deliver`` and ``cognito-raw outbox status``.

Owns the outbox's command line: argument parsing and what is printed. The
work is ``deliverer.drain`` (the same deliverer the feedback app runs) and
``SQLStore.counts``. The database URL may hold a password: it is never printed,
and may come from ``$COGNITO_RAW_OUTBOX`` instead of the command line.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from typing import TYPE_CHECKING, Any, Final, TextIO

if TYPE_CHECKING:
    from .deliverer import Outbox

__all__ = ["OUTBOX_ENV", "UsageError", "add_parser", "run_outbox"]

OUTBOX_ENV: Final = "COGNITO_RAW_OUTBOX"


class UsageError(Exception):
    """Bad command-line input for the outbox commands."""


def add_parser(commands: Any, *, epilog: str) -> None:
    """Add ``outbox deliver`` and ``outbox status`` to the CLI's subcommands."""
    outbox = commands.add_parser(
        "outbox",
        help="deliver or inspect the feedback app's outbox",
        description=(
            "The feedback app's outbox (feedback_app(..., outbox=URL)): deliver what is "
            f"pending, or count it. --db is sqlite:///absolute/path.db or postgresql://... "
            f"(default: ${OUTBOX_ENV})."
        ),
    )
    actions = outbox.add_subparsers(dest="action", required=True, metavar="ACTION")
    deliver = actions.add_parser(
        "deliver",
        help="try every pending submission once (for cron or a scheduled function)",
        description=(
            "Try every pending submission once, within --rate, waiting for leases of "
            "stopped deliverers to run out; expire those older than --max-age. Exit 0 when "
            "nothing is left pending, 5 when some must wait for a later run."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=epilog,
    )
    deliver.add_argument("--db", metavar="URL", help=f"the outbox (default: ${OUTBOX_ENV})")
    deliver.add_argument("--endpoint-url", help="a custom endpoint (cognito-local, a proxy)")
    deliver.add_argument(
        "--allow-http", action="store_true", help="allow http:// to a non-loopback host"
    )
    deliver.add_argument("--rate", type=float, default=10.0, help="calls per second (10)")
    deliver.add_argument("--burst", type=int, default=10, help="calls at once after a pause")
    deliver.add_argument("--max-age", type=float, default=86_400.0, help="seconds (24 h)")
    deliver.add_argument("--timeout", type=float, default=10.0, help="seconds per attempt")
    deliver.add_argument("--max-attempts", type=int, default=3, help="attempts per call")
    deliver.add_argument("--json", action="store_true", help="print the result as JSON")
    deliver.add_argument("-v", "--verbose", action="store_true", help="log every call")
    status = actions.add_parser("status", help="count submissions by state")
    status.add_argument("--db", metavar="URL", help=f"the outbox (default: ${OUTBOX_ENV})")
    status.add_argument("--json", action="store_true", help="print the counts as JSON")


def _outbox(args: argparse.Namespace) -> Outbox:
    # Imported here: building the parser for any command loads none of this.
    from cognito_raw.links._app import RateLimit  # noqa: PLC0415

    from .deliverer import Outbox  # noqa: PLC0415

    url = args.db or os.environ.get(OUTBOX_ENV, "")
    if not url:
        raise UsageError(f"no outbox: use --db URL or ${OUTBOX_ENV}")
    if args.action == "status":
        return Outbox(url=url)
    RateLimit(rate=args.rate, burst=args.burst)  # ValidationError names the field
    return Outbox(url=url, max_age=args.max_age)


def run_outbox(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run ``outbox deliver`` or ``outbox status``; return the exit code.

    Raises ``UsageError`` or ``ValidationError`` for bad input and
    ``OutboxError`` when the database cannot be used.
    """
    from .deliverer import open_store  # noqa: PLC0415 - see _outbox() in this module
    from .store import STATES  # noqa: PLC0415 - see _outbox() in this module

    outbox = _outbox(args)
    if args.action == "status":
        store = open_store(outbox.url, create=False)
        try:
            store.open()
            counts = store.counts()
        finally:
            store.close()
        if args.json:
            out.write(json.dumps(counts) + "\n")
        else:
            out.write("".join(f"{name:10s}{counts[name]}\n" for name in (*STATES, "leased")))
        return 0
    return _deliver(args, outbox, out, err)


def _deliver(args: argparse.Namespace, outbox: Outbox, out: TextIO, err: TextIO) -> int:
    from .store import STATES  # noqa: PLC0415 - see _outbox() in this module

    handler = logging.StreamHandler(err)
    handler.setFormatter(logging.Formatter("cognito-raw: %(message)s"))
    logger = logging.getLogger("cognito_raw.outbox")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO if args.verbose else logging.WARNING)
    try:
        counts, tally = _run_drain(args, outbox)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    if args.json:
        out.write(json.dumps({"run": tally.as_dict(), "counts": counts}) + "\n")
    else:
        out.write(
            f"this run: delivered {tally.delivered}, rejected {tally.rejected}, "
            f"expired {tally.expired}, to retry {tally.retried}\n"
            f"outbox: {', '.join(f'{name} {counts[name]}' for name in STATES)}\n"
        )
    return 0 if counts["pending"] == 0 else 5


def _run_drain(args: argparse.Namespace, outbox: Outbox) -> tuple[dict[str, int], Any]:
    import anyio  # noqa: PLC0415 - httpx (and anyio) only when something is sent

    from cognito_raw._call.config import RetryPolicy, Timeout  # noqa: PLC0415
    from cognito_raw._clients.httpx_client import AsyncClient  # noqa: PLC0415

    from .deliverer import drain  # noqa: PLC0415

    async def main() -> tuple[dict[str, int], Any]:
        async with AsyncClient(
            endpoint_url=args.endpoint_url,
            allow_http=args.allow_http,
            timeout=Timeout.of(args.timeout),
            retry=RetryPolicy(max_attempts=args.max_attempts),
        ) as client:
            return await drain(outbox, client, rate=args.rate, burst=args.burst, create=False)

    return anyio.run(main)
