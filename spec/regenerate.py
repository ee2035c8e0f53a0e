"""Rebuild the vendored spec files from an installed botocore.

``python spec/regenerate.py`` rewrites the files below from the botocore that
is installed; commit the result together with any code change it calls for
(tests/core/test_endpoints.py compares the code with these files, and the files
with botocore when the versions match).

- ``spec/cognito-idp.json``: the slice of the service model this project
  implements (``data/cognito-idp/2016-04-18/service-2.json.gz``): metadata,
  the UpdateAuthEventFeedback operation and every shape it reaches, without
  documentation strings. tests/test_spec.py holds the constants in
  ``cognito_raw`` to it.
- ``spec/endpoints.json``: the partitions (``data/partitions.json``) and the
  cognito-idp endpoint ruleset (``data/cognito-idp/2016-04-18/
  endpoint-rule-set-1.json.gz``) that ``cognito_raw/_core/endpoints.py`` implements.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import botocore
from botocore.loaders import Loader

SPEC_DIR = Path(__file__).resolve().parent
ENDPOINTS_JSON = SPEC_DIR / "endpoints.json"
MODEL_JSON = SPEC_DIR / "cognito-idp.json"
OPERATION = "UpdateAuthEventFeedback"
_METADATA_KEYS = (
    "apiVersion",
    "endpointPrefix",
    "jsonVersion",
    "protocol",
    "serviceFullName",
    "serviceId",
    "targetPrefix",
)


def _strip_docs(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_docs(v) for k, v in node.items() if k != "documentation"}
    if isinstance(node, list):
        return [_strip_docs(v) for v in node]
    return node


def _shape_refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["shape"]] if isinstance(node.get("shape"), str) else []
        for value in node.values():
            found.extend(_shape_refs(value))
        return found
    if isinstance(node, list):
        return [ref for value in node for ref in _shape_refs(value)]
    return []


def regenerate_model() -> dict[str, Any]:
    """Build the content of spec/cognito-idp.json from the installed botocore."""
    model = Loader().load_service_model("cognito-idp", "service-2")
    operation = _strip_docs(model["operations"][OPERATION])
    shapes: dict[str, Any] = {}
    pending = _shape_refs(operation)
    while pending:
        name = pending.pop()
        if name not in shapes:
            shapes[name] = _strip_docs(model["shapes"][name])
            pending.extend(_shape_refs(shapes[name]))
    return {
        "botocore_version": botocore.__version__,
        "source": "botocore/data/cognito-idp/2016-04-18/service-2.json.gz",
        "metadata": {k: model["metadata"][k] for k in _METADATA_KEYS},
        "operation": operation,
        "shapes": dict(sorted(shapes.items())),
    }


def regenerate_endpoints() -> dict[str, Any]:
    """Build the content of spec/endpoints.json from the installed botocore."""
    loader = Loader()
    partitions = loader.load_data("partitions")
    ruleset = loader.load_service_model("cognito-idp", "endpoint-rule-set-1")
    return {
        "botocore_version": botocore.__version__,
        "sources": {
            "partitions": "botocore/data/partitions.json",
            "ruleset": "botocore/data/cognito-idp/2016-04-18/endpoint-rule-set-1.json.gz",
        },
        # partitions.json order is kept: the first matching partition wins.
        "partitions": [
            {
                "id": partition["id"],
                "regionRegex": partition["regionRegex"],
                "regions": sorted(partition["regions"]),
                "dnsSuffix": partition["outputs"]["dnsSuffix"],
                "dualStackDnsSuffix": partition["outputs"]["dualStackDnsSuffix"],
                "supportsFIPS": partition["outputs"]["supportsFIPS"],
                "supportsDualStack": partition["outputs"]["supportsDualStack"],
            }
            for partition in partitions["partitions"]
        ],
        "ruleset": ruleset,
    }


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def main() -> None:
    _write_json(ENDPOINTS_JSON, regenerate_endpoints())
    _write_json(MODEL_JSON, regenerate_model())


if __name__ == "__main__":
    main()
