"""Every function in the package stays small: radon's cyclomatic complexity <= 15."""

from __future__ import annotations

from pathlib import Path

from radon.complexity import cc_visit

import cognito_raw

_PACKAGE = Path(cognito_raw.__file__).resolve().parent
_LIMIT = 15


def test_no_function_is_above_the_complexity_limit() -> None:
    too_complex = []
    for path in sorted(_PACKAGE.rglob("*.py")):
        for block in cc_visit(path.read_text(encoding="utf-8")):
            if block.complexity > _LIMIT:
                where = path.relative_to(_PACKAGE.parent)
                too_complex.append(f"{where}:{block.lineno} {block.fullname} {block.complexity}")
    assert too_complex == []
