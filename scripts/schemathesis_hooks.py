"""Schemathesis hooks for scripts/schemathesis.sh: the rules of the API that OpenAPI 3.1
parameters cannot state, each written in the document's descriptions and refused with a 400 by
the server, made to hold in the generated valid requests here (and only in those):

- `/api/v1/stations/{id}/history`: `from` together with `days`; `from` after `to`.
- `/api/v1/trends`: `from` after `to`.
- `/api/v1/stations`: `brand` values are the brands of the served data (`/api/v1/brands`),
  which a static document cannot list; an unknown one is replaced by a brand of the data.
- `POST /api/v1/route` with a JSON body: every field goes in the body, none in the query string;
  `points`, or `from` and `to`, not both (the body's `anyOf` and its description); a GPX body
  with `fuel` in the query string.
"""

import json
import os
import urllib.request

import jsonschema
import schemathesis
from schemathesis.generation import GenerationMode

HISTORY = "/api/v1/stations/{id}/history"
_BRANDS = None


def _brands():
    """The canonical brands of the served data, asked once of the server under test."""
    global _BRANDS
    if _BRANDS is None:
        url = os.environ["CARBUROAM_ST_BASE_URL"] + "/api/v1/brands"
        with urllib.request.urlopen(url, timeout=10) as r:
            _BRANDS = [b["brand"] for b in json.load(r)["brands"]]
    return _BRANDS


_ROUTE_BODY = None


def _route_body_valid(body):
    """Whether `body` is valid against the POST /api/v1/route JSON schema of the served document."""
    global _ROUTE_BODY
    if _ROUTE_BODY is None:
        url = os.environ["CARBUROAM_ST_BASE_URL"] + "/api/openapi.json"
        with urllib.request.urlopen(url, timeout=10) as r:
            doc = json.load(r)
        pointer = "#/paths/~1api~1v1~1route/post/requestBody/content/application~1json/schema"
        _ROUTE_BODY = jsonschema.Draft202012Validator(dict(doc, **{"$ref": pointer}))
    return _ROUTE_BODY.is_valid(body)


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    """Applied to every valid request of every phase (examples, coverage, fuzzing); the
    requests generated to break the document are sent as they are."""
    if case.meta is not None and case.meta.generation.mode == GenerationMode.NEGATIVE:
        return
    path, method, query = case.operation.path, case.method.upper(), case.query
    if path == "/api/v1/route" and method == "POST" and (case.media_type or "").startswith("application/json"):
        case.query = None
        # Schemathesis 4.3.2 builds some bodies from one branch of the body's `anyOf` alone
        # (`{"points": null}`, without the object's `properties` and `required`) and labels them
        # valid: a body the document's own schema refuses is replaced by the document's example.
        if not _route_body_valid(case.body):
            case.body = {"points": [[48.1147, -1.6794], [48.0707, -0.7734]], "fuel": "Gazole"}
        # `points` together with `from`, `to` or `via`: the description's "not both".
        if isinstance(case.body, dict) and "points" in case.body:
            for key in ("from", "to", "via"):
                case.body.pop(key, None)
        return
    if path == "/api/v1/route" and method == "POST" and not (query or {}).get("fuel"):
        # A GPX body takes its fields in the query string, `fuel` among them (its description).
        case.query = dict(query or {}, fuel="Gazole")
        return
    if not query:
        return
    if path == HISTORY and "days" in query and "from" in query:
        del query["from"]
    if path in (HISTORY, "/api/v1/trends"):
        start, end = query.get("from"), query.get("to")
        # Both are YYYY-MM-DD (the document's pattern): text order is day order.
        if isinstance(start, str) and isinstance(end, str) and start > end:
            query["from"], query["to"] = end, start
    if path == "/api/v1/stations" and "brand" in query:
        known = _brands()
        raw = query["brand"] if isinstance(query["brand"], list) else [query["brand"]]
        if known:
            query["brand"] = [b if b in known else known[len(str(b)) % len(known)] for b in raw]
        else:
            del query["brand"]
