# Helpers for the Jupyter integration tests (tests/it_jupyter*.sh), sourced
# after tests/lib.sh. Everything Jupyter writes stays under $T/jupyter.

# jupyter_env: a private Jupyter home (paths, runtime, config, data) and
# the kmq-jupyter kernelspecs for this test's broker: "kernelmq" (a fresh
# session per kernel) and "kernelmq-shared" (every kernel on session
# $SHARED_SESSION).
SHARED_SESSION=nb-shared
jupyter_env() {
    local j="$T/jupyter"
    mkdir -p "$j/run" "$j/config" "$j/data" "$j/home"
    export JUPYTER_PATH="$j/prefix/share/jupyter" JUPYTER_RUNTIME_DIR="$j/run" \
           JUPYTER_CONFIG_DIR="$j/config" JUPYTER_DATA_DIR="$j/data" \
           IPYTHONDIR="$j/ipython" JUPYTER_PLATFORM_DIRS=1 \
           JUPYTER_ALLOW_INSECURE_WRITES=1
    "$KMQ_BIN/kmq-jupyter" install --prefix "$j/prefix" --endpoint "$ENDPOINT" \
        > "$j/install.out" 2>&1 || { cat "$j/install.out"; return 1; }
    "$KMQ_BIN/kmq-jupyter" install --prefix "$j/prefix" --endpoint "$ENDPOINT" \
        --name kernelmq-shared --session "$SHARED_SESSION" >> "$j/install.out" 2>&1
}


# The artifacts folder the browser test keeps its screenshot in.
ARTIFACTS=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/artifacts

# no_kernels_left NAME: passes when no kmq-jupyter of this test runs (within
# 5 s); kills what is left.
no_kernels_left() {
    local left=""
    for _ in $(seq 1 50); do
        left=$(pgrep -f "kmq-jupyter -f $JUPYTER_RUNTIME_DIR" || true)
        [ -z "$left" ] && break
        sleep 0.1
    done
    expect_eq "$1" "" "$left"
    [ -n "$left" ] && kill $left
    return 0
}
