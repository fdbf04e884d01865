# Every Python module the kernel, the client, the tests, the examples and
# the benchmarks import comes from a Debian package the Makefile lists
# (tests/deps_check.py), so a fresh machine with `make deps` run has it all.
set -u
cd "$(dirname "$0")/.."
if out=$(/usr/bin/python3 tests/deps_check.py 2>&1); then
    echo "ok   every imported module comes from a package make deps installs"
else
    echo "$out"
    echo "FAIL every imported module comes from a package make deps installs"
fi
# Tests and benchmarks run Debian's interpreter, never whatever python3 is
# first on PATH (which may lack Debian's modules).
bare=$(grep -nE '(^|[^/[:alnum:]_-])python3 +(-c|-m|-|[a-z]+/)' tests/*.sh bench/*.sh 2>/dev/null \
       | grep -v '^tests/it_deps.sh' || true)
if [ -z "$bare" ]; then
    echo "ok   scripts run /usr/bin/python3, not python3 from PATH"
else
    echo "$bare"
    echo "FAIL scripts run /usr/bin/python3, not python3 from PATH"
fi
