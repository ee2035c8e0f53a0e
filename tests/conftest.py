"""Shared test settings: hypothesis profiles.

``ci`` (the default) keeps the suite fast and deterministic; ``fuzz`` is the
opt-in long run: ``HYPOTHESIS_PROFILE=fuzz python -m pytest -q tests/test_fuzz.py
tests/test_ssrf.py tests/test_secrets.py``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile(
    "fuzz",
    max_examples=20_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
