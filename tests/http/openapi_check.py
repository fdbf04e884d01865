"""client/http/openapi.json is a valid OpenAPI 3.0 document (its structure,
every $ref, every path parameter declared, every schema a valid JSON Schema),
its paths are exactly kmq-http's routes (kmq-http --all-routes), and its
x-kmq-error-status is kmq-http's error table (--error-table).
Usage: openapi_check.py OPENAPI.json ROUTES.txt ERRORS.json"""
import json
import re
import sys

import jsonschema

from common import check, fail, finish

try:
    doc = json.load(open(sys.argv[1]))
except ValueError as e:
    fail("openapi.json parses as JSON", e)
    finish()
check("openapi.json parses; it is OpenAPI 3.0", str(doc.get("openapi", "")).startswith("3.0.")
      and doc["info"].get("title") and doc["info"].get("version"))

METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
problems = []


def resolve(ref):
    if not ref.startswith("#/"):
        problems.append("external $ref " + ref)
        return None
    node = doc
    for part in ref[2:].split("/"):
        if not isinstance(node, dict) or part not in node:
            problems.append("unresolved $ref " + ref)
            return None
        node = node[part]
    return node


def walk(node, where):
    if isinstance(node, dict):
        if "$ref" in node:
            resolve(node["$ref"])
        for key, value in node.items():
            walk(value, where + "/" + str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            walk(value, "%s/%d" % (where, i))


walk(doc, "")
operation_ids = set()
for path, item in doc.get("paths", {}).items():
    if not path.startswith("/"):
        problems.append("path %s does not start with /" % path)
    template = set(re.findall(r"{([^}]+)}", path))
    for method, op in item.items():
        if method not in METHODS:
            problems.append("%s: %s is not a method" % (path, method))
            continue
        if not op.get("responses"):
            problems.append("%s %s has no responses" % (method, path))
        for code, response in op.get("responses", {}).items():
            if not re.fullmatch(r"[1-5]\d\d|default", code) or "description" not in response:
                problems.append("%s %s: response %s" % (method, path, code))
        declared = {p["name"] for p in op.get("parameters", []) if p.get("in") == "path"}
        for p in op.get("parameters", []):
            if p.get("in") == "path" and not p.get("required"):
                problems.append("%s %s: path parameter %s not required" % (method, path, p["name"]))
        if declared != template:
            problems.append("%s %s declares %s, template has %s" % (method, path, declared, template))
        if op.get("operationId") in operation_ids:
            problems.append("operationId %s twice" % op.get("operationId"))
        operation_ids.add(op.get("operationId"))
check("openapi.json: every $ref resolves, every operation has responses and declares its"
      " path parameters, operationIds unique", not problems, problems)

schemas = list(doc["components"]["schemas"].values())
for item in doc["paths"].values():
    for op in item.values():
        for p in op.get("parameters", []):
            schemas.append(p["schema"])
        for media in op.get("requestBody", {}).get("content", {}).values():
            schemas.append(media.get("schema", {}))
        for response in op.get("responses", {}).values():
            for media in response.get("content", {}).values():
                schemas.append(media.get("schema", {}))
bad = []
for schema in schemas:
    try:
        jsonschema.Draft4Validator.check_schema(json.loads(json.dumps(schema).replace(
            '"$ref": "#/components', '"$ref": "#/definitions')))
    except jsonschema.SchemaError as e:
        bad.append(str(e)[:200])
check("openapi.json: every schema is a valid JSON Schema (%d checked)" % len(schemas), not bad, bad)

routes = set()
for line in open(sys.argv[2]):
    method, pattern = line.split()
    routes.add((method.lower(), pattern))
documented = {(m, p) for p, item in doc["paths"].items() for m in item if m in METHODS}
check("every route kmq-http serves is in openapi.json", routes <= documented, routes - documented)
check("every path of openapi.json is a route kmq-http serves", documented <= routes,
      documented - routes)
errors = json.load(open(sys.argv[3]))
check("openapi.json's x-kmq-error-status is kmq-http's error table",
      doc.get("x-kmq-error-status") == errors, (doc.get("x-kmq-error-status"), errors))
finish()
