"""Every route of client/http/openapi.json was exercised: it appears in a
kmq-http -v log ("kmq-http: METHOD PATH") of this test run.
Usage: route_check.py OPENAPI.json LOG..."""
import json
import re
import sys

from common import check, finish

doc = json.load(open(sys.argv[1]))
patterns = {}
for path, item in doc["paths"].items():
    regex = "^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(path)) + "$"
    for method in item:
        patterns[(method.upper(), path)] = re.compile(regex)
hit = set()
for log in sys.argv[2:]:
    for line in open(log, errors="replace"):
        match = re.search(r"kmq-http: ([A-Z]+) (/\S*)$", line.rstrip("\n"))
        if not match:
            continue
        for (method, path), regex in patterns.items():
            if method == match.group(1) and regex.match(match.group(2)):
                hit.add((method, path))
missed = sorted(set(patterns) - hit)
check("every route of openapi.json was exercised (%d of %d)" % (len(hit), len(patterns)),
      not missed, missed)
finish()
