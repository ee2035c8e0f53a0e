"""What a fresh process runs for the cold-start and peak-RSS rows: ``python -c CODE URL``.

Each program makes (or prepares) one UpdateAuthEventFeedback call the way a
Lambda handler would on its first invocation, prints the request ID it got
back, and exits. The URL of the loopback server is ``sys.argv[1]``; nothing
else is imported, so the process pays for exactly what the library needs.
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
)
"""

PROGRAMS: dict[str, str] = {
    # A bare interpreter, and one that only imports the package.
    "bare": "pass",
    "import": "import cognito_raw",
    # One call and its reply, end to end, over loopback.
    "ours-client": f"""\
import sys
import cognito_raw
with cognito_raw.Client(endpoint_url=sys.argv[1]) as client:
    reply = client.update_auth_event_feedback({_kwargs(OURS_KW)})
print(reply.request_id)
""",
    "boto3-client": BOTO3_CLIENT
    + f"""\
reply = client.update_auth_event_feedback({_kwargs(BOTO_KW)})
print(reply["ResponseMetadata"]["RequestId"])
""",
    "httpx-post": f"""\
import json
import sys
import httpx
reply = httpx.post(
    sys.argv[1] + "/",
    content=json.dumps({WIRE!r}).encode(),
    headers={{"Content-Type": {CONTENT_TYPE!r}, "X-Amz-Target": {TARGET!r}}},
)
reply.raise_for_status()
json.loads(reply.content)
print(reply.headers["x-amzn-requestid"])
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
