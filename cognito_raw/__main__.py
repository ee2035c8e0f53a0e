"""``python -m cognito_raw``: the same as the ``cognito-raw`` command."""

from __future__ import annotations

from .cli import run

if __name__ == "__main__":
    run()
