"""Every Python module kernelmq relies on comes from a package `make deps`
(or, for the benchmarks, `make bench-deps`) installs.

A module installed by hand on a development machine passes every test
there and fails on a fresh one. This check finds every `import X` and
`from X import` in the project's Python and shell files (including code
sent to kernels inside test strings), resolves X with Debian's
/usr/bin/python3 to the file it would load, asks dpkg which package owns
that file, and fails when that package is not listed in the Makefile.

Usage: /usr/bin/python3 tests/deps_check.py   (from the repository root)
Prints one line per problem and exits 1 when there is any.
"""
import importlib.util
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Where Python is written, and which package list each place may use.
SCOPES = [
    ("deps", ["kernel", "client", "tests", "examples", "common", "broker"]),
    ("bench", ["bench"]),
]
SUFFIXES = (".py", ".sh", ".ipynb", ".md")

# Names that are not Debian's to provide: the project's own modules, the
# executor's builtin modules, and modules tests import on purpose to show
# they are missing.
PROJECT_MODULES = {"kernelmq", "_kmq_io", "_kmq", "kmqglue", "kmq_glue", "kmq_frame"}
ABSENT_ON_PURPOSE = {"no_such_module", "nonexistent_module_xyz"}

# Packages that are CPython itself, which `python3` brings.
PYTHON_ITSELF = re.compile(r"^(lib)?python3(\.\d+)?(-minimal|-stdlib|-dev)?$")

# A statement starts a line, or follows ; : ( or a quote (code in strings).
IMPORT_RE = re.compile(
    r"(?:^[ \t]*|[;'\"(:][ \t]*)"
    r"(?:import[ \t]+([A-Za-z_][\w.]*(?:[ \t]+as[ \t]+\w+)?"
    r"(?:[ \t]*,[ \t]*[A-Za-z_][\w.]*(?:[ \t]+as[ \t]+\w+)?)*)"
    r"|from[ \t]+([A-Za-z_][\w.]*)[ \t]+import\b)", re.MULTILINE)


def listed_packages():
    out = subprocess.run(["make", "-s", "--no-print-directory", "print-packages"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    lists = {}
    for line in out.splitlines():
        name, _, packages = line.partition(":")
        lists[name.strip()] = set(packages.split())
    return lists


def imports_in(path):
    """Top-level module names a file imports, with a line number each."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    found = {}
    for match in IMPORT_RE.finditer(text):
        names = []
        if match.group(1):
            names = [part.split()[0] for part in match.group(1).split(",")]
        elif match.group(2) and not match.group(2).startswith("."):
            names = [match.group(2)]
        line = text.count("\n", 0, match.start()) + 1
        for name in names:
            top = name.split(".")[0]
            if top and top not in found:
                found[top] = line
    return found


def owner(path):
    """The Debian package that owns path, or None."""
    result = subprocess.run(["dpkg", "-S", os.path.realpath(path)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        result = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
        if result.returncode != 0:
            return None
    package = result.stdout.split(":")[0].split(",")[0].strip()
    return package or None


def resolve(module):
    """('builtin'|'project'|'file', where) or (None, why)."""
    if module in sys.builtin_module_names:
        return "builtin", module
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError) as error:
        return None, str(error)
    if spec is None:
        return None, "not installed"
    origin = spec.origin
    if origin in (None, "built-in", "frozen"):
        locations = list(spec.submodule_search_locations or [])
        if not locations:
            return "builtin", module
        origin = locations[0]
    if os.path.realpath(origin).startswith(ROOT + os.sep):
        return "project", origin
    return "file", origin


def main():
    sys.path.insert(0, os.path.join(ROOT, "client", "python"))
    lists = listed_packages()
    problems = []
    checked = 0
    owners = {}
    for scope, folders in SCOPES:
        allowed = set(lists.get("deps", ()))
        if scope == "bench":
            allowed |= lists.get("bench", set())
        for folder in folders:
            top = os.path.join(ROOT, folder)
            for directory, _, files in os.walk(top):
                for filename in sorted(files):
                    if not filename.endswith(SUFFIXES) or filename == "deps_check.py":
                        continue
                    path = os.path.join(directory, filename)
                    relative = os.path.relpath(path, ROOT)
                    for module, line in sorted(imports_in(path).items()):
                        if module in PROJECT_MODULES or module in ABSENT_ON_PURPOSE:
                            continue
                        # A module beside the file is the project's own (a
                        # script imports its folder's helpers, as Python does).
                        if os.path.exists(os.path.join(directory, module + ".py")):
                            continue
                        checked += 1
                        kind, where = resolve(module)
                        if kind is None:
                            problems.append(
                                f"{relative}:{line}: imports {module}, which /usr/bin/python3 "
                                f"cannot find ({where}); add its Debian package to "
                                f"DEB_PACKAGES (or BENCH_PACKAGES) in the Makefile")
                            continue
                        if kind in ("builtin", "project"):
                            continue
                        if where not in owners:
                            owners[where] = owner(where)
                        package = owners[where]
                        if package is None:
                            problems.append(
                                f"{relative}:{line}: imports {module} from {where}, which no "
                                f"Debian package owns (installed by hand?); use a Debian "
                                f"package and list it in the Makefile")
                        elif not PYTHON_ITSELF.match(package) and package not in allowed:
                            target = "BENCH_PACKAGES" if scope == "bench" else "DEB_PACKAGES"
                            problems.append(
                                f"{relative}:{line}: imports {module} from Debian package "
                                f"{package}, which the Makefile does not list; add it to "
                                f"{target}")
    for problem in problems:
        print(problem)
    print(f"deps_check: {checked} imports checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
