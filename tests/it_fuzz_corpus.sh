# Every fuzz harness (fuzz/, `make fuzz`) replays its committed corpus
# (fuzz/corpus/NAME/) once under ASan/UBSan and LeakSanitizer: the seeds,
# and every input that once crashed a parser, keep passing. One
# "ok   NAME" / "FAIL NAME" line per harness; builds them first (clang).
set -u
cd "$(dirname "$0")/.."
log=$(mktemp /tmp/kmq-fuzz-corpus.XXXXXX)
trap 'rm -f "$log"' EXIT

if ! make -s -j2 fuzz-build > "$log" 2>&1; then
    tail -30 "$log"
    echo "FAIL fuzz harnesses build (make fuzz-build; clang is in DEB_PACKAGES)"
    exit 0
fi
for name in $(make -s --no-print-directory print-fuzz); do
    corpus=fuzz/corpus/$name
    count=$(find "$corpus" -type f 2>/dev/null | wc -l)
    if [ "$count" -eq 0 ]; then
        echo "FAIL fuzz corpus $name: $corpus has no inputs"
        continue
    fi
    # The files themselves, each run once (no mutation, no new inputs)
    if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
       timeout 120 "build/fuzz/$name" $(find "$corpus" -type f | sort) > "$log" 2>&1; then
        echo "ok   fuzz corpus $name ($count inputs)"
    else
        grep -E 'ERROR|SUMMARY|check failed|Running:' "$log" | tail -12
        echo "FAIL fuzz corpus $name (build/fuzz/$name $corpus/FILE reproduces it)"
    fi
done
