"""Partitions and the cognito-idp endpoint rules: region in, service URL out.

This module owns three things: the strict check that makes a region safe to
put in a hostname, the translation of botocore's cognito-idp endpoint ruleset
(``data/cognito-idp/2016-04-18/endpoint-rule-set-1.json.gz``) over its
``data/partitions.json`` into plain code, and the check of a caller-supplied
endpoint URL. It does no I/O and loads no JSON: the partition data is vendored
below as constants, from botocore 1.44.8 (``spec/endpoints.json``, rebuilt by
the spec regeneration script). tests/core/test_endpoints.py holds the result to
botocore's own ``EndpointProvider`` for every region botocore knows.

The region is usually the prefix of a user pool ID (``us-east-1_AbC123``),
which can arrive inside an untrusted link, so it is checked as a host label
before anything else: the URLs this module returns always point at a Cognito
host under one of the partitions' DNS suffixes.

The ruleset also makes a custom endpoint combined with FIPS or dual-stack a
configuration error ("Invalid Configuration: FIPS and custom endpoint are not
supported"): ``check_custom_endpoint`` owns that rule, and ``service_url``,
which chooses between a custom endpoint and the region's, applies it.
"""

from __future__ import annotations

import functools
import re

from cognito_raw._core.errors import ValidationError
from cognito_raw._core.record import Record

# typing costs milliseconds at import; annotations alone need it (PEP 563).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final
    from urllib.parse import SplitResult

__all__ = [
    "PARTITIONS",
    "Partition",
    "check_custom_endpoint",
    "check_endpoint_url",
    "resolve_endpoint",
    "service_url",
    "validate_region",
]


class Partition(Record):
    """One partition of partitions.json, with the outputs the ruleset reads."""

    name: str
    region_regex: str
    regions: tuple[str, ...]
    dns_suffix: str
    dual_stack_dns_suffix: str
    supports_fips: bool
    supports_dual_stack: bool

    def __repr__(self) -> str:
        return f"Partition(name={self.name!r}, dns_suffix={self.dns_suffix!r})"


# partitions.json, in its order: aws.partition returns the first partition
# that lists the region or whose regionRegex matches it, and falls back to the
# first one (aws) when none does. Keep "aws" first.
PARTITIONS: Final[tuple[Partition, ...]] = (
    Partition(
        name="aws",
        region_regex=r"^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$",
        regions=(
            "af-south-1",
            "ap-east-1",
            "ap-east-2",
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-northeast-3",
            "ap-south-1",
            "ap-south-2",
            "ap-southeast-1",
            "ap-southeast-2",
            "ap-southeast-3",
            "ap-southeast-4",
            "ap-southeast-5",
            "ap-southeast-6",
            "ap-southeast-7",
            "aws-global",
            "ca-central-1",
            "ca-west-1",
            "eu-central-1",
            "eu-central-2",
            "eu-north-1",
            "eu-south-1",
            "eu-south-2",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "il-central-1",
            "me-central-1",
            "me-south-1",
            "me-west-1",
            "mx-central-1",
            "sa-east-1",
            "sa-west-1",
            "us-east-1",
            "us-east-2",
            "us-west-1",
            "us-west-2",
        ),
        dns_suffix="amazonaws.com",
        dual_stack_dns_suffix="api.aws",
        supports_fips=True,
        supports_dual_stack=True,
    ),
    Partition(
        name="aws-cn",
        region_regex=r"^cn\-\w+\-\d+$",
        regions=(
            "aws-cn-global",
            "cn-north-1",
            "cn-northwest-1",
        ),
        dns_suffix="amazonaws.com.cn",
        dual_stack_dns_suffix="api.amazonwebservices.com.cn",
        supports_fips=True,
        supports_dual_stack=True,
    ),
    Partition(
        name="aws-eusc",
        region_regex=r"^eusc\-(de)\-\w+\-\d+$",
        regions=("eusc-de-east-1",),
        dns_suffix="amazonaws.eu",
        dual_stack_dns_suffix="api.amazonwebservices.eu",
        supports_fips=True,
        supports_dual_stack=True,
    ),
    Partition(
        name="aws-iso",
        region_regex=r"^us\-iso\-\w+\-\d+$",
        regions=(
            "aws-iso-global",
            "us-iso-east-1",
            "us-iso-west-1",
        ),
        dns_suffix="c2s.ic.gov",
        dual_stack_dns_suffix="api.aws.ic.gov",
        supports_fips=True,
        supports_dual_stack=True,
    ),
    Partition(
        name="aws-iso-b",
        region_regex=r"^us\-isob\-\w+\-\d+$",
        regions=(
            "aws-iso-b-global",
            "us-isob-east-1",
            "us-isob-west-1",
        ),
        dns_suffix="sc2s.sgov.gov",
        dual_stack_dns_suffix="api.aws.scloud",
        supports_fips=True,
        supports_dual_stack=True,
    ),
    Partition(
        name="aws-iso-e",
        region_regex=r"^eu\-isoe\-\w+\-\d+$",
        regions=(
            "aws-iso-e-global",
            "eu-isoe-west-1",
        ),
        dns_suffix="cloud.adc-e.uk",
        dual_stack_dns_suffix="api.cloud-aws.adc-e.uk",
        supports_fips=True,
        supports_dual_stack=True,
    ),
    Partition(
        name="aws-iso-f",
        region_regex=r"^us\-isof\-\w+\-\d+$",
        regions=(
            "aws-iso-f-global",
            "us-isof-east-1",
            "us-isof-south-1",
        ),
        dns_suffix="csp.hci.ic.gov",
        dual_stack_dns_suffix="api.aws.hci.ic.gov",
        supports_fips=True,
        supports_dual_stack=True,
    ),
    Partition(
        name="aws-us-gov",
        region_regex=r"^us\-gov\-\w+\-\d+$",
        regions=(
            "aws-us-gov-global",
            "us-gov-east-1",
            "us-gov-west-1",
        ),
        dns_suffix="amazonaws.com",
        dual_stack_dns_suffix="api.aws",
        supports_fips=True,
        supports_dual_stack=True,
    ),
)


# The patterns are matched exactly as botocore uses them (re.match, no flags;
# re compiles each once and keeps it). Flags would not change anything: a
# validated region is [a-z0-9-] only, and has no trailing newline for "$" to
# match before. The module's own patterns below are strings, matched through
# re's cache the same way: a call's endpoint comes from service_url's cache,
# so they run when a client is made, on a cache miss, or for the public
# validators and the links' builder, and none is compiled at import.


# The ruleset's FIPS + dual-stack branch names four regions whose endpoint
# stays on amazonaws.com instead of the dual-stack suffix (stringEquals on
# Region, before the "cognito-idp-fips.{Region}.{dualStackDnsSuffix}" rule).
_FIPS_DUALSTACK_ON_AMAZONAWS: Final[frozenset[str]] = frozenset(
    ("us-east-1", "us-east-2", "us-west-1", "us-west-2")
)
# The host suffix the ruleset writes literally in those special cases, and for
# dual-stack in the "aws" partition ("https://cognito-idp.{Region}.amazonaws.com").
_AMAZONAWS: Final = "amazonaws.com"

# A region is one DNS label (RFC 1123), lower-case ASCII only. fullmatch, not
# "$": "$" also matches before a trailing newline.
_REGION_LABEL: Final = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_LETTER: Final = r"[a-z]"

_REGION_RULE: Final = (
    "must be an AWS region name such as 'us-east-1': lower-case ASCII letters, "
    "digits and inner hyphens, at most 63 characters"
)

_MAX_PREVIEW: Final = 40


def _preview(value: str) -> str:
    # ascii() escapes control characters and look-alikes, so the message is
    # safe to log; the cut keeps a hostile megabyte out of it.
    text = ascii(value[: _MAX_PREVIEW + 1])
    return text if len(text) <= _MAX_PREVIEW else text[: _MAX_PREVIEW - 3] + "..."


def validate_region(region: str) -> str:
    """Return ``region`` if it is safe to use as the region label of a hostname.

    Accepts one lower-case DNS label of ASCII letters, digits and inner hyphens
    (at most 63 characters) that contains a hyphen and a letter, such as
    ``us-east-1``; raises ``ValidationError(field="region")`` otherwise.
    """
    if not isinstance(region, str):
        raise ValidationError(
            field="region", rule=f"must be a string, got {type(region).__name__}"
        )
    if not region:
        raise ValidationError(field="region", rule="must not be empty")
    if (
        re.fullmatch(_REGION_LABEL, region, re.ASCII) is None
        or "-" not in region
        or re.search(_LETTER, region, re.ASCII) is None
    ):
        raise ValidationError(field="region", rule=f"{_REGION_RULE}, got {_preview(region)}")
    return region


def _partition_of(region: str) -> Partition:
    # The ruleset's aws.partition (botocore endpoint_provider.py, aws_partition
    # and is_partition_match): explicit region list or regionRegex, first
    # partition wins, and an unknown region falls back to "aws".
    for partition in PARTITIONS:
        if region in partition.regions or re.match(partition.region_regex, region) is not None:
            return partition
    return PARTITIONS[0]


def _url_for(region: str, partition: Partition, *, use_fips: bool, use_dualstack: bool) -> str:
    # The ruleset's tree under "isSet(Region)", branch by branch, in its order.
    # Every partition in 1.44.8 supports both FIPS and dual-stack, so the
    # error branches are reachable only with other partition data (the tests
    # feed such data to both this function and botocore).
    if use_fips and use_dualstack:
        if not (partition.supports_fips and partition.supports_dual_stack):
            raise ValidationError(
                field="use_fips" if not partition.supports_fips else "use_dualstack",
                rule=(
                    "FIPS and dual-stack are enabled, but partition "
                    f"{partition.name!r} does not support one or both"
                ),
            )
        if region in _FIPS_DUALSTACK_ON_AMAZONAWS:
            return f"https://cognito-idp-fips.{region}.{_AMAZONAWS}"
        return f"https://cognito-idp-fips.{region}.{partition.dual_stack_dns_suffix}"
    if use_fips:
        if not partition.supports_fips:
            raise ValidationError(
                field="use_fips",
                rule=f"FIPS is enabled, but partition {partition.name!r} does not support FIPS",
            )
        return f"https://cognito-idp-fips.{region}.{partition.dns_suffix}"
    if use_dualstack:
        if not partition.supports_dual_stack:
            raise ValidationError(
                field="use_dualstack",
                rule=(
                    f"dual-stack is enabled, but partition {partition.name!r} "
                    "does not support dual-stack"
                ),
            )
        # Cognito's regular endpoints in the aws partition are dual-stack
        # already: the ruleset names them rather than the api.aws suffix.
        if partition.name == "aws":
            return f"https://cognito-idp.{region}.{_AMAZONAWS}"
        return f"https://cognito-idp.{region}.{partition.dual_stack_dns_suffix}"
    return f"https://cognito-idp.{region}.{partition.dns_suffix}"


def resolve_endpoint(region: str, *, use_fips: bool = False, use_dualstack: bool = False) -> str:
    """Return the cognito-idp endpoint URL for ``region``, without a trailing slash.

    Follows botocore's cognito-idp endpoint ruleset: for example
    ``resolve_endpoint("us-east-1")`` is ``"https://cognito-idp.us-east-1.amazonaws.com"``.
    Raises ``ValidationError`` for a region that ``validate_region`` rejects
    (field ``"region"``), or for FIPS / dual-stack in a partition without them
    (field ``"use_fips"`` / ``"use_dualstack"``).
    """
    validate_region(region)
    return _url_for(
        region, _partition_of(region), use_fips=bool(use_fips), use_dualstack=bool(use_dualstack)
    )


def check_custom_endpoint(
    endpoint_url: str,
    *,
    use_fips: bool = False,
    use_dualstack: bool = False,
    allow_http: bool = False,
) -> str:
    """Check a custom endpoint and the flags it comes with; return it normalised.

    The ruleset's "Invalid Configuration: FIPS and custom endpoint are not
    supported" (likewise dual-stack): ``use_fips`` or ``use_dualstack`` with a
    custom endpoint raises ``ValidationError(field="endpoint_url")``. The URL
    is then checked by ``check_endpoint_url``.
    """
    if use_fips or use_dualstack:
        raise ValidationError(
            field="endpoint_url",
            rule="a custom endpoint cannot be combined with use_fips or use_dualstack",
        )
    return check_endpoint_url(endpoint_url, allow_http=allow_http)


def service_url(
    region: str | None,
    *,
    endpoint_url: str | None = None,
    use_fips: bool = False,
    use_dualstack: bool = False,
    allow_http: bool = False,
) -> str:
    """The URL to send to, with its trailing slash: the custom endpoint, else the region's.

    ``endpoint_url`` goes through ``check_custom_endpoint``, ``region``
    through ``resolve_endpoint``; both raise ``ValidationError``.
    """
    key = (region, endpoint_url, bool(use_fips), bool(use_dualstack), bool(allow_http))
    if (region is None or type(region) is str) and (
        endpoint_url is None or type(endpoint_url) is str
    ):
        return _cached_service_url(*key)
    return _service_url(*key)


def _service_url(
    region: str | None,
    endpoint_url: str | None,
    use_fips: bool,
    use_dualstack: bool,
    allow_http: bool,
) -> str:
    if endpoint_url is not None:
        url = check_custom_endpoint(
            endpoint_url, use_fips=use_fips, use_dualstack=use_dualstack, allow_http=allow_http
        )
    else:
        url = resolve_endpoint(region, use_fips=use_fips, use_dualstack=use_dualstack)  # type: ignore[arg-type]
    return url + "/"


# The package's one cache: every call of a client would otherwise parse its
# custom endpoint URL, or run the ruleset for its pool's region, again. Only
# successes are kept (lru_cache keeps no exceptions), and only for exact str
# arguments; a region from a hostile link that passes is a well-formed region.
_cached_service_url: Final = functools.lru_cache(maxsize=256)(_service_url)


# One DNS name: labels of letters, digits, hyphens and underscores (container
# host names such as "cognito_local" have them), 1-63 characters each.
_DNS_NAME: Final = (
    r"(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
)
_MAX_HOST: Final = 253  # RFC 1035 name length, without the root dot
_NUMERIC_LABEL: Final = r"(?:^|\.)[0-9]+$"
# What urlsplit leaves in netloc once user info is refused: a host, or a
# bracketed IPv6 literal, then an optional port. urlsplit itself is lenient
# ("[::1]x:80" parses as [::1] port 80), so the shape is checked here.
_NETLOC: Final = r"(?:\[[^\[\]]*\]|[^\[\]:]*)(?::[0-9]*)?"

_LOOPBACK_RULE: Final = (
    "http:// is allowed only for a loopback host (localhost, 127.0.0.0/8, [::1]); "
    "use https:// or pass allow_http=True"
)


def _bad_url(rule: str) -> ValidationError:
    return ValidationError(field="endpoint_url", rule=rule)


def _host_and_loopback(host: str, *, bracketed: bool) -> tuple[str, bool]:
    # The host in normal form (lower case, IPv6 compressed and bracketed), and
    # whether it is one of the loopback hosts that may be reached over http.
    import ipaddress  # noqa: PLC0415 - lazily, like urllib.parse below

    if bracketed:
        if "%" in host:
            raise _bad_url("IPv6 zone IDs are not supported")
        try:
            ip6 = ipaddress.IPv6Address(host)
        except ValueError:
            raise _bad_url(f"host is not a valid IPv6 address: {_preview(host)}") from None
        return f"[{ip6.compressed}]", ip6 == ipaddress.IPv6Address("::1")
    if len(host) > _MAX_HOST or re.fullmatch(_DNS_NAME, host, re.ASCII) is None:
        raise _bad_url(f"host must be a DNS name or an IP address, got {_preview(host)}")
    if re.search(_NUMERIC_LABEL, host, re.ASCII) is None:
        return host, host == "localhost"
    # A name ending in a number is read as an IPv4 address by URL parsers and
    # resolvers ("127.1", "0x7f.1"): accept only the dotted-quad form.
    try:
        ip4 = ipaddress.IPv4Address(host)
    except ValueError:
        raise _bad_url(f"host is not a valid IPv4 address: {_preview(host)}") from None
    return host, ip4 in ipaddress.IPv4Network("127.0.0.0/8")


def check_endpoint_url(url: str, *, allow_http: bool = False) -> str:
    """Check a custom endpoint URL and return it normalised, without a trailing slash.

    The scheme must be ``http`` or ``https`` and a host is required; user info,
    a query and a fragment are refused. ``http`` is accepted only for a loopback
    host (``localhost``, 127.0.0.0/8, ``[::1]``) unless ``allow_http`` is true.
    The scheme and host are lower-cased, an IPv6 host is compressed, the port
    and any path prefix are kept. Raises ``ValidationError(field="endpoint_url")``.
    """
    return _check_endpoint_url(url, allow_http=allow_http)


def _check_endpoint_url(url: str, *, allow_http: bool = False) -> str:
    if not isinstance(url, str):
        raise _bad_url(f"must be a string, got {type(url).__name__}")
    _check_characters(url)
    parts, port = _split(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise _bad_url(f"scheme must be http or https, got {_preview(url)}")
    _check_authority(parts, port, url)
    host, loopback = _host_and_loopback(
        parts.hostname or "", bracketed=parts.netloc.startswith("[")
    )
    if scheme == "http" and not loopback and not allow_http:
        raise _bad_url(_LOOPBACK_RULE)
    netloc = host if port is None else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def _check_characters(url: str) -> None:
    # urlsplit silently drops tabs and newlines and strips leading spaces and
    # control characters, and some HTTP stacks read "\" as "/": refuse them all
    # rather than send a URL other than the one that was checked.
    if any(c <= " " or c >= "\x7f" or c == "\\" for c in url):
        raise _bad_url(
            "must be printable ASCII without spaces or backslashes, got " + _preview(url)
        )
    if "#" in url:
        raise _bad_url("must not have a fragment")
    if "?" in url:
        raise _bad_url("must not have a query")


def _split(url: str) -> tuple[SplitResult, int | None]:
    # Imported here, not at the top, so that importing the core costs only re
    # and typing; a custom endpoint is checked once per client, if at all.
    from urllib.parse import urlsplit  # noqa: PLC0415 - see above

    try:
        parts = urlsplit(url)
        return parts, parts.port
    except ValueError:
        raise _bad_url(f"is not a valid URL (bad host or port): {_preview(url)}") from None


def _check_authority(parts: SplitResult, port: int | None, url: str) -> None:
    if "@" in parts.netloc:
        raise _bad_url("must not contain user info (user:password@)")
    if re.fullmatch(_NETLOC, parts.netloc, re.ASCII) is None:
        raise _bad_url(f"is not a valid URL (bad host or port): {_preview(url)}")
    if not parts.hostname:
        raise _bad_url(f"must have a host, got {_preview(url)}")
    if port == 0:
        raise _bad_url("port must be from 1 to 65535")
