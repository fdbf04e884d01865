# The frame format's Python codec (common/kmq_frame.py, protocol.md section
# 11): round trips of every dtype, refusals that name the column, and
# descriptions and buffers from a lying peer. One "ok   NAME" / "FAIL NAME"
# line per unittest case (tests/frame/test_kmq_frame.py).
set -u
cd "$(dirname "$0")/.."
timeout 120 /usr/bin/python3 tests/frame/test_kmq_frame.py
