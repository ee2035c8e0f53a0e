"""cognito_raw._core.endpoints against botocore's EndpointProvider, and its input checks.

botocore is a test oracle only: the ruleset and partitions it ships are run
through its own EndpointProvider and compared with ours for every region it
knows, for likely future regions, and for generated ones.
"""

from __future__ import annotations

import ast
import copy
import importlib.util
import itertools
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cognito_raw._core import endpoints as _endpoints
from cognito_raw._core.endpoints import (
    PARTITIONS,
    check_endpoint_url,
    resolve_endpoint,
    validate_region,
)
from cognito_raw._core.errors import ValidationError

ROOT = Path(__file__).resolve().parents[2]
SPEC_FILE = ROOT / "spec" / "endpoints.json"
REGENERATE = ROOT / "spec" / "regenerate.py"

FLAGS = list(itertools.product((False, True), repeat=2))
FLAG_IDS = [f"fips={f}-dualstack={d}" for f, d in FLAGS]

# The region rule as the brief states it, written independently of the module.
_BRIEF_REGION = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", re.ASCII)


def looks_like_region(region: str) -> bool:
    return (
        _BRIEF_REGION.match(region) is not None
        and "\n" not in region
        and "-" in region
        and any(c.isalpha() for c in region)
    )


# ---------------------------------------------------------------------------
# The oracle


@cache
def _botocore() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    pytest.importorskip("botocore")
    from botocore.loaders import Loader

    loader = Loader()
    ruleset = loader.load_service_model("cognito-idp", "endpoint-rule-set-1")
    return ruleset, loader.load_data("partitions"), loader.load_data("endpoints")


def _provider(ruleset: dict[str, Any], partitions: dict[str, Any]) -> Any:
    from botocore.endpoint_provider import EndpointProvider

    # EndpointProvider writes "name" into the partition outputs: give it a copy.
    return EndpointProvider(copy.deepcopy(ruleset), copy.deepcopy(partitions))


@cache
def installed_provider() -> Any:
    ruleset, partitions, _ = _botocore()
    return _provider(ruleset, partitions)


def vendored_partitions_json() -> dict[str, Any]:
    """spec/endpoints.json's partitions in the shape of botocore's partitions.json."""
    return {
        "version": "1.1",
        "partitions": [
            {
                "id": p["id"],
                "regionRegex": p["regionRegex"],
                "regions": {r: {} for r in p["regions"]},
                "outputs": {
                    "name": p["id"],
                    "dnsSuffix": p["dnsSuffix"],
                    "dualStackDnsSuffix": p["dualStackDnsSuffix"],
                    "supportsFIPS": p["supportsFIPS"],
                    "supportsDualStack": p["supportsDualStack"],
                },
            }
            for p in spec()["partitions"]
        ],
    }


@cache
def vendored_provider() -> Any:
    pytest.importorskip("botocore")
    return _provider(spec()["ruleset"], vendored_partitions_json())


def oracle_url(provider: Any, region: str, fips: bool, dualstack: bool) -> str | None:
    """botocore's URL, or None where the ruleset raises."""
    from botocore.exceptions import EndpointResolutionError

    try:
        endpoint = provider.resolve_endpoint(Region=region, UseFIPS=fips, UseDualStack=dualstack)
    except EndpointResolutionError:
        return None
    url: str = endpoint.url
    return url


def outcome(function: Callable[..., str], *args: Any, **kwargs: Any) -> str | ValidationError:
    """What ``function`` returns, or the ValidationError it raises."""
    try:
        return function(*args, **kwargs)
    except ValidationError as exc:
        return exc


def our_url(region: str, fips: bool, dualstack: bool) -> str | None:
    url = outcome(resolve_endpoint, region, use_fips=fips, use_dualstack=dualstack)
    return None if isinstance(url, ValidationError) else url


def mismatches(regions: Iterable[str], fips: bool, dualstack: bool) -> list[str]:
    """Regions where we differ from botocore: a region-like one must resolve as
    botocore resolves it (raising where it raises); any other is refused."""
    providers = (installed_provider(), vendored_provider())
    bad = []
    for region in sorted(regions):
        ours = our_url(region, fips, dualstack)
        if looks_like_region(region):
            expected = [oracle_url(p, region, fips, dualstack) for p in providers]
            if any(ours != e for e in expected):
                bad.append(f"{region!r}: ours {ours!r}, botocore {expected!r}")
        elif ours is not None:
            bad.append(f"{region!r}: not region-like but resolved to {ours!r}")
    return bad


# ---------------------------------------------------------------------------
# Regions


def known_regions() -> set[str]:
    """Every region botocore names: partitions.json, and endpoints.json's region
    lists, service endpoint keys and credential-scope regions."""
    _, partitions, endpoints = _botocore()
    regions: set[str] = set()
    for partition in partitions["partitions"]:
        regions.update(partition["regions"])
    for partition in endpoints["partitions"]:
        regions.update(partition["regions"])
        for service in partition["services"].values():
            for key, endpoint in service.get("endpoints", {}).items():
                regions.add(key)
                scope = endpoint.get("credentialScope", {}).get("region")
                if scope:
                    regions.add(scope)
    return regions


_DIRECTIONS = (
    "north",
    "south",
    "east",
    "west",
    "central",
    "northeast",
    "northwest",
    "southeast",
    "southwest",
)


def expand_region_regex(regex: str) -> list[str]:
    """Plausible regions for a partition regex: each alternative of its groups,
    each direction for \\w+ and a few numbers for \\d+."""
    body = regex.removeprefix("^").removesuffix("$").replace("\\-", "-")
    pieces = re.split(r"\(([^()]*)\)", body)  # odd indices: group contents
    choices = [piece.split("|") if i % 2 else [piece] for i, piece in enumerate(pieces)]
    out = []
    for combo in itertools.product(*choices):
        template = "".join(combo)
        for direction, number in itertools.product(_DIRECTIONS, ("1", "2", "9", "10")):
            out.append(template.replace("\\w+", direction).replace("\\d+", number))
    return out


# Named in the brief, plus shapes on the edges of the partition regexes.
EXTRA_REGIONS = (
    "us-west-9",
    "eu-central-7",
    "cn-south-3",
    "us-gov-north-2",
    "us-iso-west-3",
    "us-isob-west-2",
    "eu-isoe-north-1",
    "us-isof-east-9",
    "eusc-de-west-1",
    "mx-east-1",
    "us-gov-1",  # matches the aws regex, not aws-us-gov's
    "eu-isoe-1",  # likewise aws
    "us-iso-1",
    "cn-1",  # no partition: the aws fallback
    "xx-east-1",
    "eusc-fr-east-1",  # aws-eusc's regex is for "de" only
    "us-east-1-fips",
    "fips-us-east-1",
    "aws-global",
    "aws-cn-global",
    "aws-us-gov-global",
    "us-east-01",
    "ap-southeast-123",
)


def future_regions() -> set[str]:
    _, partitions, _ = _botocore()
    regions = set(EXTRA_REGIONS)
    for partition in partitions["partitions"]:
        generated = expand_region_regex(partition["regionRegex"])
        assert all(re.match(partition["regionRegex"], r) for r in generated), generated
        regions.update(generated)
    return regions


# ---------------------------------------------------------------------------
# Contract with botocore


@pytest.mark.parametrize(("fips", "dualstack"), FLAGS, ids=FLAG_IDS)
def test_every_known_region_resolves_as_botocore_does(fips: bool, dualstack: bool) -> None:
    assert mismatches(known_regions(), fips, dualstack) == []


@pytest.mark.parametrize(("fips", "dualstack"), FLAGS, ids=FLAG_IDS)
def test_future_regions_resolve_as_botocore_does(fips: bool, dualstack: bool) -> None:
    regions = future_regions()
    assert len(regions) > 400
    assert mismatches(regions, fips, dualstack) == []


def test_every_partition_region_is_accepted() -> None:
    _, partitions, _ = _botocore()
    for partition in partitions["partitions"]:
        for region in partition["regions"]:
            assert validate_region(region) == region


def test_known_regions_refused_by_design_are_not_host_labels() -> None:
    # What botocore's endpoints.json calls a region but we refuse: endpoint
    # keys such as "rds.us-east-1" or "ProdFips", and single words like "local".
    refused = {r for r in known_regions() if our_url(r, False, False) is None}
    assert refused
    for region in refused:
        assert "." in region or region != region.lower() or "-" not in region, region


# Partition data where the ruleset's error branches are reachable (in 1.44.8
# every partition supports both FIPS and dual-stack).
_WITHOUT = {
    "aws": {"supportsDualStack": False},
    "aws-cn": {"supportsFIPS": False},
    "aws-iso": {"supportsFIPS": False, "supportsDualStack": False},
    "aws-us-gov": {"supportsDualStack": False},
}


@pytest.mark.parametrize(("fips", "dualstack"), FLAGS, ids=FLAG_IDS)
def test_unsupported_fips_or_dualstack_raises_where_botocore_does(
    fips: bool, dualstack: bool
) -> None:
    ruleset, partitions, _ = _botocore()
    partitions = copy.deepcopy(partitions)
    for partition in partitions["partitions"]:
        partition["outputs"].update(_WITHOUT.get(partition["id"], {}))
    provider = _provider(ruleset, partitions)
    refused = 0
    for region in ("us-east-1", "eu-west-1", "cn-north-1", "us-iso-east-1", "us-gov-west-1"):
        partition = _endpoints._partition_of(region)
        flags = _WITHOUT.get(partition.name, {})
        partition = _endpoints.Partition(
            name=partition.name,
            region_regex=partition.region_regex,
            regions=partition.regions,
            dns_suffix=partition.dns_suffix,
            dual_stack_dns_suffix=partition.dual_stack_dns_suffix,
            supports_fips=flags.get("supportsFIPS", True),
            supports_dual_stack=flags.get("supportsDualStack", True),
        )
        expected = oracle_url(provider, region, fips, dualstack)
        ours = outcome(
            _endpoints._url_for, region, partition, use_fips=fips, use_dualstack=dualstack
        )
        if isinstance(ours, ValidationError):
            refused += 1
            assert expected is None, (region, str(ours))
            if fips and dualstack:
                wanted = "use_dualstack" if partition.supports_fips else "use_fips"
            else:
                wanted = "use_fips" if fips else "use_dualstack"
            assert ours.field == wanted, str(ours)
        else:
            assert ours == expected, region
    assert refused >= (2 if fips or dualstack else 0)


# Letters and digits only: \w and \d narrowed to what validate_region accepts,
# so that the filter below keeps most examples.
_NARROWED = [p.region_regex.replace("\\w", "[a-z0-9]").replace("\\d", "[0-9]") for p in PARTITIONS]


def _region_ok(region: str) -> bool:
    try:
        validate_region(region)
    except ValidationError:
        return False
    return True


region_like = st.one_of(
    *(st.from_regex(re.compile(r, re.ASCII), fullmatch=True) for r in _NARROWED)
).filter(_region_ok)


@settings(max_examples=300)
@given(region=region_like, fips=st.booleans(), dualstack=st.booleans())
def test_generated_regions_resolve_as_botocore_does(
    region: str, fips: bool, dualstack: bool
) -> None:
    expected = oracle_url(installed_provider(), region, fips, dualstack)
    assert resolve_endpoint(region, use_fips=fips, use_dualstack=dualstack) == expected


# ---------------------------------------------------------------------------
# Examples from docs/protocol.md


@pytest.mark.parametrize(
    ("region", "fips", "dualstack", "url"),
    [
        ("us-east-1", False, False, "https://cognito-idp.us-east-1.amazonaws.com"),
        ("us-east-1", True, False, "https://cognito-idp-fips.us-east-1.amazonaws.com"),
        ("eu-west-1", True, True, "https://cognito-idp-fips.eu-west-1.api.aws"),
        ("us-gov-west-1", False, True, "https://cognito-idp.us-gov-west-1.api.aws"),
        ("cn-north-1", False, False, "https://cognito-idp.cn-north-1.amazonaws.com.cn"),
        # The ruleset's special cases.
        ("us-west-2", True, True, "https://cognito-idp-fips.us-west-2.amazonaws.com"),
        ("eu-west-1", False, True, "https://cognito-idp.eu-west-1.amazonaws.com"),
        ("cn-north-1", False, True, "https://cognito-idp.cn-north-1.api.amazonwebservices.com.cn"),
        ("us-gov-west-1", True, True, "https://cognito-idp-fips.us-gov-west-1.api.aws"),
        ("eusc-de-east-1", False, False, "https://cognito-idp.eusc-de-east-1.amazonaws.eu"),
        ("us-isof-south-1", False, False, "https://cognito-idp.us-isof-south-1.csp.hci.ic.gov"),
        ("xx-future-1", False, False, "https://cognito-idp.xx-future-1.amazonaws.com"),
    ],
)
def test_examples(region: str, fips: bool, dualstack: bool, url: str) -> None:
    assert resolve_endpoint(region, use_fips=fips, use_dualstack=dualstack) == url


# ---------------------------------------------------------------------------
# Hostile regions

HOSTILE_REGIONS = [
    "",
    "evil.com#",
    "us-east-1.attacker.example",
    "127.0.0.1",
    "localhost",
    "US-EAST-1",
    "Us-east-1",
    "us-east-1/",
    "us-east-1@x",
    "us-east-1\n",
    "\nus-east-1",
    "us-east-1\x00",
    "a_b",
    "us_east_1",
    "us-east-1:443",
    "us-east-1?x",
    "us-east-1#x",
    "us-east-1\\x",
    "%2e",
    "us%2deast-1",
    ".",
    "..",
    "-us",
    "us-",
    "-",
    "--",
    " us-east-1",
    "us-east-1 ",
    "us east-1",
    "\uff55\uff53-east-1",  # fullwidth "us"
    "us-\u0435ast-1",  # Cyrillic e
    "us-east-\u0661",  # Arabic-Indic digit one
    "us-east-1\u200b",  # zero-width space
    "us\u2010east-1",  # Unicode hyphen
    "12345",
    "1-2",
    "a" * 64,
    "us-" + "a" * 61,
    "us-east-1" * 1000,
    "useast1",
    "[::1]",
    "us-east-1/../x",
    "https://evil.com",
]


@pytest.mark.parametrize("region", HOSTILE_REGIONS, ids=ascii)
def test_hostile_region_is_refused(region: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_region(region)
    assert info.value.field == "region"
    assert len(str(info.value)) < 250
    for fips, dualstack in FLAGS:
        with pytest.raises(ValidationError) as info:
            resolve_endpoint(region, use_fips=fips, use_dualstack=dualstack)
        assert info.value.field == "region"


@pytest.mark.parametrize("region", [None, b"us-east-1", 1, ["us-east-1"]], ids=repr)
def test_non_string_region_is_refused(region: Any) -> None:
    with pytest.raises(ValidationError):
        validate_region(region)
    with pytest.raises(ValidationError):
        resolve_endpoint(region)


def test_limits_of_the_region_label() -> None:
    assert validate_region("us-" + "a" * 60) == "us-" + "a" * 60  # 63 characters
    assert validate_region("a-1") == "a-1"


def test_region_error_message_is_short_and_escaped() -> None:
    with pytest.raises(ValidationError) as info:
        validate_region("us-east-1\n" + "x" * 500)
    message = str(info.value)
    assert message.startswith("region: ")
    assert "\n" not in message
    assert "'us-east-1\\nxxxx" in message
    assert len(message) < 250


_SUFFIXES = tuple(
    {p.dns_suffix for p in PARTITIONS} | {p.dual_stack_dns_suffix for p in PARTITIONS}
)


@settings(max_examples=600)
@given(
    text=st.one_of(
        st.text(),
        st.text(alphabet="abcdeus-01.:/@#?%_ \n\\[]"),
        region_like,
        st.builds(lambda a, b: a + b, region_like, st.text(max_size=5)),
        st.builds(lambda a, b: a + b, st.text(max_size=5), region_like),
    ),
    fips=st.booleans(),
    dualstack=st.booleans(),
)
def test_any_text_yields_a_cognito_url_or_a_validation_error(
    text: str, fips: bool, dualstack: bool
) -> None:
    # The SSRF guarantee: whatever the region, the URL names a Cognito host
    # under an AWS partition's suffix, over https, on the default port.
    url = outcome(resolve_endpoint, text, use_fips=fips, use_dualstack=dualstack)
    if isinstance(url, ValidationError):
        assert url.field == "region"
        return
    parts = urlsplit(url)
    assert parts.scheme == "https"
    assert parts.port is None
    assert (parts.path, parts.query, parts.fragment) == ("", "", "")
    host = parts.netloc
    assert host == parts.hostname
    assert host.startswith("cognito-idp.") or host.startswith("cognito-idp-fips.")
    assert host.split(".")[1] == text
    assert host.endswith(tuple("." + s for s in _SUFFIXES))


@settings(max_examples=300)
@given(text=st.text())
def test_validate_region_returns_its_input_or_raises(text: str) -> None:
    result = outcome(validate_region, text)
    if isinstance(result, ValidationError):
        assert result.field == "region"
        assert not looks_like_region(text)
    else:
        assert result == text
        assert looks_like_region(text)


def test_service_urls_are_cached() -> None:
    _endpoints._cached_service_url.cache_clear()
    _endpoints.service_url("eu-west-1")
    _endpoints.service_url("eu-west-1")
    info = _endpoints._cached_service_url.cache_info()
    assert (info.hits, info.misses, info.maxsize) == (1, 1, 256)


def test_service_url_applies_the_custom_endpoint_rule() -> None:
    assert _endpoints.service_url(None, endpoint_url="http://localhost:9/x/") == (
        "http://localhost:9/x/"
    )
    assert _endpoints.service_url("eu-west-1", use_fips=True) == (
        resolve_endpoint("eu-west-1", use_fips=True) + "/"
    )
    for flags in ({"use_fips": True}, {"use_dualstack": True}):
        with pytest.raises(ValidationError) as info:
            _endpoints.service_url(None, endpoint_url="https://example.com", **flags)
        assert info.value.field == "endpoint_url"


# ---------------------------------------------------------------------------
# Custom endpoint URLs


@pytest.mark.parametrize(
    ("url", "allow_http", "expected"),
    [
        ("http://127.0.0.1:9229", False, "http://127.0.0.1:9229"),
        ("http://localhost:8080/", False, "http://localhost:8080"),
        ("http://[::1]:1", False, "http://[::1]:1"),
        ("https://proxy.example.com/cognito/", False, "https://proxy.example.com/cognito"),
        ("https://example.com", False, "https://example.com"),
        ("https://example.com/", False, "https://example.com"),
        ("HTTPS://Example.COM:8443/A/b//", False, "https://example.com:8443/A/b"),
        ("http://LocalHost", False, "http://localhost"),
        ("http://127.255.0.9/", False, "http://127.255.0.9"),
        ("http://[0:0:0:0:0:0:0:1]:9229/", False, "http://[::1]:9229"),
        ("https://[2001:DB8::1]/", False, "https://[2001:db8::1]"),
        ("https://example.com:", False, "https://example.com"),
        ("http://example.com", True, "http://example.com"),
        ("http://127.0.0.1.evil.com", True, "http://127.0.0.1.evil.com"),
        ("http://cognito_local:9229/", True, "http://cognito_local:9229"),
        ("https://cognito-idp.us-east-1.amazonaws.com", False, None),
    ],
)
def test_endpoint_url_accepted(url: str, allow_http: bool, expected: str | None) -> None:
    result = check_endpoint_url(url, allow_http=allow_http)
    assert result == (expected or url)
    assert check_endpoint_url(result, allow_http=allow_http) == result


@pytest.mark.parametrize(
    ("url", "allow_http"),
    [
        ("http://example.com", False),
        ("http://127.0.0.1.evil.com", False),
        ("http://[::ffff:127.0.0.1]", False),  # mapped loopback: not on the list
        ("http://localhost.", False),
        ("ftp://x", True),
        ("file:///etc/passwd", True),
        ("javascript:alert(1)", True),
        ("https://user:pw@host", True),
        ("https://user@host", True),
        ("https://@host", True),
        ("https://host/?q=1", True),
        ("https://host?", True),
        ("https://host/#f", True),
        ("https://host#", True),
        ("https://", True),
        ("https:///path", True),
        ("https://:443", True),
        ("localhost:80", True),
        ("//example.com", True),
        ("example.com", True),
        ("", True),
        ("https://host:0", True),
        ("https://host:65536", True),
        ("https://host:x", True),
        ("https://host:80:90", True),
        ("http://[::1]x:80", True),
        ("https://[::1", True),
        ("https://[::1]]/", True),
        ("https://[fe80::1%25eth0]/", True),
        ("https://[v1.x]/", True),
        ("https://exa mple.com", True),
        ("https://example.com\n", True),
        (" https://example.com", True),
        ("https://ex\tample.com", True),
        ("https://example.com\\@evil.com", True),
        ("https://example.com/a\\b", True),
        ("https://ex\u00e4mple.com", True),
        ("https://127.1", True),
        ("https://0x7f.0.0.1", True),
        ("http://2130706433", True),
        ("https://-bad.example", True),
        ("https://a..b", True),
        ("https://%65vil.com", True),
        ("https://" + "a" * 64 + ".com", True),
    ],
    ids=ascii,
)
def test_endpoint_url_refused(url: str, allow_http: bool) -> None:
    with pytest.raises(ValidationError) as info:
        check_endpoint_url(url, allow_http=allow_http)
    assert info.value.field == "endpoint_url"
    assert len(str(info.value)) < 250


def test_http_needs_a_loopback_host() -> None:
    with pytest.raises(ValidationError, match="loopback"):
        check_endpoint_url("http://example.com")


@settings(max_examples=300)
@given(
    url=st.one_of(
        st.text(),
        st.builds(
            lambda scheme, rest: scheme + rest,
            st.sampled_from(["http://", "https://", "HTTP://", "ftp://", ""]),
            st.text(alphabet="abc09.:/@#?%[]_-\\ "),
        ),
    ),
    allow_http=st.booleans(),
)
def test_endpoint_url_check_is_a_normal_form(url: str, allow_http: bool) -> None:
    result = outcome(check_endpoint_url, url, allow_http=allow_http)
    if isinstance(result, ValidationError):
        assert result.field == "endpoint_url"
        return
    parts = urlsplit(result)
    assert parts.scheme in ("http", "https")
    assert parts.hostname
    assert (parts.query, parts.fragment, parts.username) == ("", "", None)
    assert not result.endswith("/")
    assert check_endpoint_url(result, allow_http=allow_http) == result


# ---------------------------------------------------------------------------
# Vendored data


@cache
def spec() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SPEC_FILE.read_text(encoding="utf-8"))
    return data


def _load_regenerate() -> ModuleType:
    module_spec = importlib.util.spec_from_file_location("_spec_regenerate", REGENERATE)
    assert module_spec is not None
    assert module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def test_partitions_constant_matches_the_spec() -> None:
    assert [
        {
            "id": p.name,
            "regionRegex": p.region_regex,
            "regions": list(p.regions),
            "dnsSuffix": p.dns_suffix,
            "dualStackDnsSuffix": p.dual_stack_dns_suffix,
            "supportsFIPS": p.supports_fips,
            "supportsDualStack": p.supports_dual_stack,
        }
        for p in PARTITIONS
    ] == spec()["partitions"]
    assert PARTITIONS[0].name == "aws"  # the fallback partition


def _region_literals(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("fn") == "stringEquals" and {"ref": "Region"} in node["argv"]:
            yield from (a for a in node["argv"] if isinstance(a, str))
        for value in node.values():
            yield from _region_literals(value)
    elif isinstance(node, list):
        for item in node:
            yield from _region_literals(item)


def test_special_regions_match_the_ruleset() -> None:
    assert set(_region_literals(spec()["ruleset"])) == _endpoints._FIPS_DUALSTACK_ON_AMAZONAWS


def test_spec_matches_the_installed_botocore() -> None:
    # Fails when botocore (pinned in the dev extra) moves on: run
    # spec/regenerate.py, then bring PARTITIONS in line.
    fresh = _load_regenerate().regenerate_endpoints()
    assert fresh["botocore_version"] == spec()["botocore_version"]
    assert fresh == spec()


# ---------------------------------------------------------------------------
# Imports


def test_module_imports_only_the_standard_library() -> None:
    source = Path(_endpoints.__file__).read_text(encoding="utf-8")
    tree = ast.parse(source)
    everywhere: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            everywhere.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0
            assert node.module is not None
            everywhere.add(node.module)
    own = {"cognito_raw._core.errors", "cognito_raw._core.record"}
    assert {m for m in everywhere - own if m.split(".")[0] not in sys.stdlib_module_names} == set()
    # At import time only these: the URL check imports urllib and ipaddress lazily.
    top: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            top.add(str(node.module))
    # typing only under TYPE_CHECKING, where no import runs.
    assert top == {"__future__", "functools", "re", *own}
