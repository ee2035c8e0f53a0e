"""What a fresh process runs for the cold-start and peak-RSS rows: ``python -c CODE URL CA``.

Each program makes (or prepares) one UpdateAuthEventFeedback call the way a
Lambda handler would on its first invocation, over HTTPS, prints the request
ID it got back, and exits. The URL of the loopback server is ``sys.argv[1]``
and the CA file each client is told to trust ``sys.argv[2]``; nothing else is
imported, so the process pays for exactly what the library needs.

``capo-client`` runs under the interpreter of capo's own virtual environment
(run.py makes it); every other program under the benchmark's.
"""

from __future__ import annotations

from _worker import BOTO_KW, CONTENT_TYPE, OURS_KW, REQUEST_ID, TARGET, WIRE


def _kwargs(values: dict[str, str]) -> str:
    return ", ".join(f"{name}={value!r}" for name, value in values.items())


BOTO3_CLIENT = """\
import sys
import boto3
from botocore import UNSIGNED
from botocore.config import Config
client = boto3.client(
    "cognito-idp",
    region_name="us-east-1",
    endpoint_url=sys.argv[1],
    config=Config(signature_version=UNSIGNED),
    verify=sys.argv[2],
)
"""

_PHASES = """\
print("phases", *(f"{(b - a) * 1000:.3f}" for a, b in zip(marks, marks[1:])))
"""

PROGRAMS: dict[str, str] = {
    # A bare interpreter, and one that only imports the package.
    "bare": "pass",
    "import": "import cognito_raw",
    # One call and its reply, end to end, over loopback. The Client and its
    # floor also clock their steps (``marks``: after the imports, after the
    # client's creation, after the reply), printed on a ``phases`` line.
    "ours-client": f"""\
import time
marks = [time.perf_counter()]
import sys
from cognito_raw import Client
marks.append(time.perf_counter())
with Client(endpoint_url=sys.argv[1], verify=sys.argv[2]) as client:
    marks.append(time.perf_counter())
    reply = client.update_auth_event_feedback({_kwargs(OURS_KW)})
    marks.append(time.perf_counter())
print(reply.request_id)
"""
    + _PHASES,
    "boto3-client": BOTO3_CLIENT
    + f"""\
reply = client.update_auth_event_feedback({_kwargs(BOTO_KW)})
print(reply["ResponseMetadata"]["RequestId"])
""",
    # The floor: the same bytes through httpx's one-call API, nothing else.
    # httpx.post creates its client inside: its second mark is after the reply.
    "httpx-post": f"""\
import time
marks = [time.perf_counter()]
import json
import ssl
import sys
import httpx
marks.append(time.perf_counter())
reply = httpx.post(
    sys.argv[1] + "/",
    content=json.dumps({WIRE!r}).encode(),
    headers={{"Content-Type": {CONTENT_TYPE!r}, "X-Amz-Target": {TARGET!r}}},
    verify=ssl.create_default_context(cafile=sys.argv[2]),
)
reply.raise_for_status()
json.loads(reply.content)
marks.append(time.perf_counter())
print(reply.headers["x-amzn-requestid"])
"""
    + _PHASES,
    # capo returns the (empty) output only: an interceptor, its documented
    # hook around each call, reads the request ID off the reply.
    "capo-client": f"""\
import ssl
import sys
import capo_cognito_identity_provider as capo
import zapros
context = ssl.create_default_context(cafile=sys.argv[2])
handler = zapros.StdNetworkHandler(transport=zapros.SyncTransport(ssl_context=context))
seen = []
def keep_request_id(request, call_next):
    response = call_next(request)
    seen.append(response.response.headers.get("x-amzn-requestid"))
    return response
with capo.CognitoIdentityProviderClient(
    http_handler=handler,
    operation_interceptors=[keep_request_id],
    region="us-east-1",
    endpoint=sys.argv[1],
    anonymous=True,
) as client:
    reply = client.update_auth_event_feedback({_kwargs(OURS_KW)})
assert reply == {{}}, reply
print(seen[-1])
""",
    # The sans-I/O path alone: validate, build, and decode a canned reply.
    "ours-sansio": f"""\
import sys
import cognito_raw
request = cognito_raw.UpdateAuthEventFeedbackRequest({_kwargs(OURS_KW)})
http = cognito_raw.build_request(request, endpoint_url=sys.argv[1])
reply = cognito_raw.parse_response(
    200, [("content-type", {CONTENT_TYPE!r}), ("x-amzn-requestid", {REQUEST_ID!r})], b"{{}}"
)
print(reply.request_id)
""",
    # What boto3 costs before its first call can even start.
    "boto3-create": BOTO3_CLIENT + f"print({REQUEST_ID!r})\n",
}

# Appended for the memory runs (not the timed ones). The peak comes from
# VmHWM, the high-water mark of this process's own address space: ru_maxrss
# also counts the address space the process was forked from (Linux carries it
# across exec), so a child of a 27 MiB benchmark never reports less than that.
PEAK_RSS = """
for _line in open("/proc/self/status"):
    if _line.startswith("VmHWM:"):
        print("VmHWM", int(_line.split()[1]) * 1024)
"""
