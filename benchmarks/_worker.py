"""One measurement per process: ``python _worker.py '{"task": ..., ...}'`` prints one JSON object.

Only the standard library is imported at the top, so the same file runs under
any interpreter (the aiobotocore one included); each task imports the library
it measures. run.py starts a fresh process per measurement, so one library's
imports, caches and garbage never weigh on another's numbers.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

# One call's input, the same for every library (a threat-protection email's
# values: a UUID event ID and an opaque token).
POOL_ID = "us-east-1_AbC123def"
USERNAME = "alice@example.com"
EVENT_ID = "c2c2cf89-c0d3-482d-aba6-99d78a5b0bfe"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.dGVzdA.c2lnbmF0dXJl"  # noqa: S105 - a made-up token
VALUE = "Invalid"
REQUEST_ID = "5090ed1c-b098-47e5-8397-e2f3ef4b41d5"
TARGET = "AWSCognitoIdentityProviderService.UpdateAuthEventFeedback"
CONTENT_TYPE = "application/x-amz-json-1.1"

OURS_KW: dict[str, str] = {
    "user_pool_id": POOL_ID,
    "username": USERNAME,
    "event_id": EVENT_ID,
    "feedback_token": TOKEN,
    "feedback_value": VALUE,
}
BOTO_KW: dict[str, str] = {
    "UserPoolId": POOL_ID,
    "Username": USERNAME,
    "EventId": EVENT_ID,
    "FeedbackToken": TOKEN,
    "FeedbackValue": VALUE,
}
# What raw httpx sends: the same members, the two headers the protocol needs.
WIRE: dict[str, str] = BOTO_KW
WIRE_HEADERS: dict[str, str] = {"Content-Type": CONTENT_TYPE, "X-Amz-Target": TARGET}
# The headers nginx sends with the canned reply, as httpx hands them over.
REPLY_HEADERS: list[tuple[str, str]] = [
    ("server", "nginx/1.22.1"),
    ("date", "Thu, 27 Nov 2025 09:00:00 GMT"),
    ("content-type", CONTENT_TYPE),
    ("content-length", "2"),
    ("connection", "keep-alive"),
    ("x-amzn-requestid", REQUEST_ID),
]
REPLY_BODY = b"{}"
# cognito-raw's default pool size (DEFAULT_MAX_CONNECTIONS), for raw httpx
# held to the same bound.
BOUNDED_CONNECTIONS = 10

SyncCall = Callable[[], object]
AsyncCall = Callable[[], Awaitable[object]]


def rss_bytes() -> int:
    """Resident set size now (not the peak), from /proc; 0 where there is none."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


# -- the libraries, each driven the way its documentation shows -----------------


def _boto3_client(url: str | None, ca: str | None = None) -> Any:
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    return boto3.client(
        "cognito-idp",
        region_name="us-east-1",
        endpoint_url=url,
        config=Config(signature_version=UNSIGNED),
        verify=ca,
    )


def _tls_context(ca: str) -> Any:
    import ssl

    return ssl.create_default_context(cafile=ca)


def _capo_client(url: str, ca: str) -> Any:
    # capo sends through zapros; its transport takes the SSL context to trust.
    import capo_cognito_identity_provider as capo
    import zapros

    handler = zapros.StdNetworkHandler(
        transport=zapros.SyncTransport(ssl_context=_tls_context(ca))
    )
    return capo.CognitoIdentityProviderClient(
        http_handler=handler, region="us-east-1", endpoint=url, anonymous=True
    )


def _mock_transport() -> Any:
    import httpx

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=REPLY_HEADERS, content=REPLY_BODY)

    return httpx.MockTransport(handler)


def sync_caller(lib: str, url: str, ca: str) -> tuple[SyncCall, Callable[[], object]]:
    """A function making one call to ``url`` (trusting the CA in ``ca``), and how to close it."""
    if lib == "cognito-raw":
        import cognito_raw

        client = cognito_raw.Client(endpoint_url=url, verify=ca)
        return lambda: client.update_auth_event_feedback(**OURS_KW), client.close
    if lib == "boto3":
        boto = _boto3_client(url, ca)
        return lambda: boto.update_auth_event_feedback(**BOTO_KW), boto.close
    if lib == "httpx":
        import httpx

        raw = httpx.Client(verify=_tls_context(ca))
        return _httpx_call(raw, url), raw.close
    if lib == "capo":
        capo = _capo_client(url, ca)
        return lambda: capo.update_auth_event_feedback(**OURS_KW), lambda: None
    raise ValueError(f"unknown sync library {lib!r}")


def _httpx_call(raw: Any, url: str) -> SyncCall:
    post_url = url + "/"

    def call() -> object:
        reply = raw.post(post_url, content=json.dumps(WIRE).encode(), headers=WIRE_HEADERS)
        if reply.status_code != 200:
            raise RuntimeError(f"HTTP {reply.status_code}")
        return json.loads(reply.content)

    return call


async def async_caller(
    lib: str, url: str, concurrency: int, ca: str
) -> tuple[AsyncCall, Callable[[], Awaitable[object]]]:
    """A coroutine function making one call to ``url``, and how to close its client."""
    if lib == "cognito-raw":
        import cognito_raw

        client = cognito_raw.AsyncClient(endpoint_url=url, verify=ca)
        return lambda: client.update_auth_event_feedback(**OURS_KW), client.aclose
    if lib == "aiobotocore":
        from aiobotocore.config import AioConfig
        from aiobotocore.session import get_session
        from botocore import UNSIGNED

        # Enough pooled connections for the calls in flight (its default is 10).
        config = AioConfig(signature_version=UNSIGNED, max_pool_connections=concurrency)
        context = get_session().create_client(
            "cognito-idp", region_name="us-east-1", endpoint_url=url, config=config, verify=ca
        )
        aio = await context.__aenter__()

        async def close() -> None:
            await context.__aexit__(None, None, None)

        return lambda: aio.update_auth_event_feedback(**BOTO_KW), close
    if lib == "httpx":
        import httpx

        raw = httpx.AsyncClient(verify=_tls_context(ca))
        return _httpx_async_call(raw, url), raw.aclose
    if lib == "httpx-bounded":
        return _httpx_bounded(url, ca)
    raise ValueError(f"unknown async library {lib!r}")


def _httpx_async_call(raw: Any, url: str) -> AsyncCall:
    post_url = url + "/"

    async def call() -> object:
        reply = await raw.post(post_url, content=json.dumps(WIRE).encode(), headers=WIRE_HEADERS)
        if reply.status_code != 200:
            raise RuntimeError(f"HTTP {reply.status_code}")
        return json.loads(reply.content)

    return call


def _httpx_bounded(url: str, ca: str) -> tuple[AsyncCall, Callable[[], Awaitable[object]]]:
    # Raw httpx held to what AsyncClient does by default: a pool of
    # BOUNDED_CONNECTIONS, and no more requests in flight than that (the
    # others wait on a semaphore rather than in httpcore's pool).
    import httpx

    limits = httpx.Limits(
        max_connections=BOUNDED_CONNECTIONS, max_keepalive_connections=BOUNDED_CONNECTIONS
    )
    raw = httpx.AsyncClient(verify=_tls_context(ca), limits=limits)
    post = _httpx_async_call(raw, url)
    slots = asyncio.Semaphore(BOUNDED_CONNECTIONS)

    async def call() -> object:
        async with slots:
            return await post()

    return call, raw.aclose


# -- tasks ----------------------------------------------------------------------


def task_sync(args: dict[str, Any]) -> dict[str, Any]:
    """Sequential calls over one client: bounded by ``count`` and ``seconds``."""
    call, close = sync_caller(args["lib"], args["url"], args["ca"])
    try:
        for _ in range(args["warmup"]):
            call()
        count, seconds = args["count"], args["seconds"]
        done = 0
        cpu0 = time.process_time()
        start = time.perf_counter()
        deadline = start + seconds
        while done < count:
            call()
            done += 1
            if time.perf_counter() > deadline:
                break
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu0
    finally:
        close()
    return {"calls": done, "elapsed": elapsed, "cpu": cpu, "rate": done / elapsed}


async def _drive(call: AsyncCall, count: int, concurrency: int, deadline: float) -> int:
    left = [count]

    async def worker() -> int:
        made = 0
        while left[0] > 0 and time.perf_counter() < deadline:
            left[0] -= 1
            await call()
            made += 1
        return made

    return sum(await asyncio.gather(*(worker() for _ in range(concurrency))))


async def _task_async(args: dict[str, Any]) -> dict[str, Any]:
    concurrency = args["concurrency"]
    call, close = await async_caller(args["lib"], args["url"], concurrency, args["ca"])
    try:
        # Warm up at full concurrency, so the pool has opened its connections.
        await _drive(call, args["warmup"], concurrency, time.perf_counter() + args["seconds"])
        cpu0 = time.process_time()
        start = time.perf_counter()
        done = await _drive(call, args["count"], concurrency, start + args["seconds"])
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu0
    finally:
        await close()
    return {"calls": done, "elapsed": elapsed, "cpu": cpu, "rate": done / elapsed}


def task_async(args: dict[str, Any]) -> dict[str, Any]:
    """``concurrency`` calls in flight on one event loop: bounded by ``count`` and ``seconds``."""
    return asyncio.run(_task_async(args))


def _percall_fn(lib: str) -> SyncCall:
    if lib == "cognito-raw-core":
        from cognito_raw import UpdateAuthEventFeedbackRequest, build_request, parse_response

        def core() -> object:
            request = UpdateAuthEventFeedbackRequest(**OURS_KW)
            build_request(request)
            return parse_response(200, REPLY_HEADERS, REPLY_BODY)

        return core
    if lib == "boto3-stubbed":
        from botocore.awsrequest import AWSResponse

        class Raw:
            # What AWSResponse.content reads from urllib3's response.
            def stream(self) -> list[bytes]:
                return [REPLY_BODY]

        def before_send(request: Any, **_: Any) -> AWSResponse:
            return AWSResponse(request.url, 200, dict(REPLY_HEADERS), Raw())

        boto = _boto3_client(None)
        boto.meta.events.register("before-send.cognito-idp.UpdateAuthEventFeedback", before_send)
        return lambda: boto.update_auth_event_feedback(**BOTO_KW)
    if lib == "cognito-raw-client-mock":
        import httpx

        import cognito_raw

        client = cognito_raw.Client(
            endpoint_url="http://127.0.0.1:9",
            http_client=httpx.Client(transport=_mock_transport()),
        )
        return lambda: client.update_auth_event_feedback(**OURS_KW)
    if lib == "httpx-mock":
        import httpx

        return _httpx_call(httpx.Client(transport=_mock_transport()), "http://127.0.0.1:9")
    raise ValueError(f"unknown per-call subject {lib!r}")


def _loop(fn: SyncCall, number: int) -> float:
    # CPU time of this process: on a shared machine, time spent waiting for a
    # core is not the call's cost.
    start = time.process_time()
    for _ in range(number):
        fn()
    return time.process_time() - start


def task_percall(args: dict[str, Any]) -> dict[str, Any]:
    """Per-call times: ``repeats`` loops of ``number`` calls (calibrated unless given)."""
    fn = _percall_fn(args["lib"])
    fn()  # first-call costs (lazy loaders, caches) are not per-call costs
    number = args.get("number") or 1
    while not args.get("number") and number < 10_000_000:
        if _loop(fn, number) >= args["min_time"]:
            break
        number *= 2
    times = [_loop(fn, number) / number for _ in range(args["repeats"])]
    return {"number": number, "per_call": times}


def task_growth(args: dict[str, Any]) -> dict[str, Any]:
    """RSS and tracked objects through one client, at checkpoints up to ``count`` calls."""
    call = _percall_fn(args["lib"])
    checkpoints = sorted(args["checkpoints"])
    deadline = time.perf_counter() + args["seconds"]
    samples = []
    done = 0
    for mark in checkpoints:
        while done < mark and time.perf_counter() < deadline:
            call()
            done += 1
        gc.collect()
        samples.append({"calls": done, "rss": rss_bytes(), "objects": len(gc.get_objects())})
        if done < mark:
            break
    return {"samples": samples, "timed_out": done < checkpoints[-1]}


async def _growth_async(args: dict[str, Any]) -> dict[str, Any]:
    import cognito_raw

    client = cognito_raw.AsyncClient(endpoint_url=args["url"], verify=args["ca"])
    checkpoints = sorted(args["checkpoints"])
    deadline = time.perf_counter() + args["seconds"]
    samples = []
    done = 0
    try:
        for mark in checkpoints:
            done += await _drive(
                lambda: client.update_auth_event_feedback(**OURS_KW),
                mark - done,
                args["concurrency"],
                deadline,
            )
            gc.collect()
            samples.append({"calls": done, "rss": rss_bytes(), "objects": len(gc.get_objects())})
            if done < mark:
                break
    finally:
        await client.aclose()
    return {"samples": samples, "timed_out": done < checkpoints[-1]}


def task_growth_async(args: dict[str, Any]) -> dict[str, Any]:
    """Like ``growth``, through one AsyncClient over HTTPS loopback."""
    return asyncio.run(_growth_async(args))


def task_versions(args: dict[str, Any]) -> dict[str, Any]:
    """Versions of what this interpreter would measure."""
    from importlib import metadata

    found: dict[str, Any] = {"python": sys.version.split()[0], "executable": sys.executable}
    for name in args["packages"]:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


TASKS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "sync": task_sync,
    "async": task_async,
    "percall": task_percall,
    "growth": task_growth,
    "growth_async": task_growth_async,
    "versions": task_versions,
}


def main() -> None:
    args = json.loads(sys.argv[1])
    result = TASKS[args["task"]](args)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
