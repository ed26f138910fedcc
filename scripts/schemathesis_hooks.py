"""Schemathesis hooks for scripts/schemathesis.sh: the rules of the API that OpenAPI 3.1
parameters cannot state, each written in the document's descriptions and refused with a 400 by
the server, made to hold in the generated valid requests here (and only in those):

- `/api/v1/stations/{id}/history`: `from` together with `days`; `from` after `to`.
- `/api/v1/trends`: `from` after `to`.
- `/api/v1/stations`: `brand` values are the brands of the served data (`/api/v1/brands`),
  which a static document cannot list; an unknown one is replaced by a brand of the data.
- `/api/v1/stations/{id}` and its history: a generated id is almost never a station (a 404, which
  schemathesis reports as missing test data): three in four are replaced by the document's
  example id, a station of the served fixtures, so that the answers of a real station are
  checked too; the fourth keeps its 404.
- `/api/v1/route`: a path outside France and a place the site's index does not know are 422s
  (the descriptions say so), and generated ones nearly always are: three in four valid requests
  get their `points` moved into France's box, their GPX body replaced by a two-point track
  (Brest to Nantes), or their `from`/`to` replaced by the document's examples (places of the
  served fixtures; without a routing engine in this run, those then get the documented 503);
  the fourth is sent as generated.
- `POST /api/v1/route` with a JSON body: every field goes in the body, none in the query string;
  `points`, or `from` and `to`, not both (the body's `anyOf` and its description); a GPX body
  with `fuel` in the query string.
"""

import functools
import json
import os
import urllib.request

import jsonschema
import schemathesis
from schemathesis.generation import GenerationMode

HISTORY = "/api/v1/stations/{id}/history"


@functools.cache
def _served(path):
    """The JSON the server under test answers at `path`, asked once."""
    with urllib.request.urlopen(os.environ["CARBUROAM_ST_BASE_URL"] + path, timeout=10) as r:
        return json.load(r)


def _brands():
    """The canonical brands of the served data."""
    return [b["brand"] for b in _served("/api/v1/brands")["brands"]]


def _document():
    """The served OpenAPI document."""
    return _served("/api/openapi.json")


_ROUTE_BODY = None
# Mainland France's box (latitude, longitude): where a route's points may go.
_FRANCE = ((42.4, 51.0), (-4.7, 8.1))


_GPX = (
    '<?xml version="1.0"?><gpx version="1.1" creator="schemathesis" xmlns="http://www.topografix.com/GPX/1/1">'
    '<trk><trkseg><trkpt lat="48.3904" lon="-4.4861"/><trkpt lat="47.2184" lon="-1.5536"/></trkseg></trk></gpx>'
)


def _three_in_four(value):
    """A deterministic pick of three generated values in four (the fourth is sent as it is)."""
    return len(repr(value)) % 4 != 0


def _into_france(point):
    """`point` ([lat, lon], any range) moved into France's box, keeping its relative place."""
    (lat0, lat1), (lon0, lon1) = _FRANCE
    lat, lon = point
    return [lat0 + (lat + 90) / 180 * (lat1 - lat0), lon0 + (lon + 180) / 360 * (lon1 - lon0)]


def _param_example(path, method, name):
    """The example of the parameter `name` of `method path` in the served document."""
    for p in _document()["paths"][path][method].get("parameters", []):
        if p["name"] == name:
            schema = p.get("schema", {})
            return p.get("example", schema.get("example", (schema.get("examples") or [None])[0]))
    return None


def _route_body_valid(body):
    """Whether `body` is valid against the POST /api/v1/route JSON schema of the served document."""
    global _ROUTE_BODY
    if _ROUTE_BODY is None:
        doc = _document()
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
    ids = case.path_parameters or {}
    if method == "GET" and isinstance(ids.get("id"), int) and ids["id"] % 4 != 0:
        example = _param_example(path, "get", "id")
        if example is not None:
            ids["id"] = example
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
            points = case.body["points"]
            if _three_in_four(points) and all(isinstance(p, list) and len(p) == 2 for p in points):
                case.body["points"] = [_into_france(p) for p in points]
        return
    if path == "/api/v1/route" and method == "POST":
        # A GPX body takes its fields in the query string, `fuel` among them (its description).
        if not (query or {}).get("fuel"):
            case.query = dict(query or {}, fuel="Gazole")
        if _three_in_four(case.body):
            case.body = _GPX
        return
    if not query:
        return
    if path == "/api/v1/route" and method == "GET":
        for end in ("from", "to"):
            if isinstance(query.get(end), str) and _three_in_four(query[end]):
                query[end] = _param_example(path, "get", end)
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
