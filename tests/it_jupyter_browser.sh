# The classic Jupyter Notebook server with the kernelmq kernel, driven in
# headless Chromium through selenium and chromedriver (all Debian's): the
# page shows the sandbox's DataFrame table and matplotlib image. The
# screenshot is kept in tests/artifacts/ (its path is printed).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/jupyter/lib_jupyter.sh"
PY=/usr/bin/python3
start_broker || exit 1
jupyter_env || { fail "kmq-jupyter install writes the kernelspecs"; exit 1; }
mkdir -p "$T/nbdir" "$ARTIFACTS"
$PY - "$T/nbdir/sandbox.ipynb" <<'PYEOF'
import sys
import nbformat
nb = nbformat.v4.new_notebook()
nb.metadata["kernelspec"] = {"name": "kernelmq", "language": "python",
                             "display_name": "Python 3 (kernelmq sandbox)"}
nb.cells = [
    nbformat.v4.new_markdown_cell("# kernelmq: a notebook in a sandbox"),
    nbformat.v4.new_code_cell(
        'import os, pandas as pd\n'
        'print("sandboxed:", not os.path.exists("/etc/shadow"), "cwd:", os.getcwd())\n'
        'df = pd.DataFrame({"city": ["Oslo", "Lima", "Pune"], "temp_c": [3, 19, 31]})\n'
        'df'),
    nbformat.v4.new_code_cell(
        'import matplotlib.pyplot as plt\n'
        'fig, ax = plt.subplots(figsize=(5, 3))\n'
        'ax.bar(df["city"], df["temp_c"], color="#f39c12")\n'
        'ax.set_title("made in the kernelmq sandbox")'),
]
nbformat.write(nb, sys.argv[1])
PYEOF
port=$(free_port)
(cd "$T/nbdir" && exec /usr/bin/python3 -m notebook --no-browser --allow-root \
    --ip=127.0.0.1 --port="$port" --NotebookApp.token= --NotebookApp.password= \
    --NotebookApp.open_browser=False --notebook-dir="$T/nbdir" \
    > "$T/notebook.log" 2>&1) &
nb_pid=$!
if wait_for 300 $PY -c "import urllib.request, sys; urllib.request.urlopen('http://127.0.0.1:$port/api', timeout=2)" 2>/dev/null
then ok "the notebook server starts"
else fail "the notebook server starts" "$(tail -20 "$T/notebook.log")"; fi
shot="$ARTIFACTS/jupyter_notebook.png"
rm -f "$shot"
timeout 240 $PY tests/jupyter/browser_test.py "http://127.0.0.1:$port/notebooks/sandbox.ipynb" \
    "$shot" > "$T/browser.out" 2> "$T/browser.err"
browser_rc=$?
cat "$T/browser.out"
[ "$browser_rc" -eq 0 ] || fail "browser_test.py exits 0" \
    "status $browser_rc: $(tail -15 "$T/browser.err"); server: $(tail -10 "$T/notebook.log")"
kill -TERM "$nb_pid" 2>/dev/null
for _ in $(seq 1 100); do kill -0 "$nb_pid" 2>/dev/null || break; sleep 0.1; done
kill -KILL "$nb_pid" 2>/dev/null; wait "$nb_pid" 2>/dev/null
no_kernels_left "the notebook server leaves no kmq-jupyter behind"
exit 0
