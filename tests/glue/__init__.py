"""Unit tests of the executor glue (kernel/glue, package _kmq), run with
/usr/bin/python3 outside any executor: tests/glue/run.py (or
tests/it_glue.sh) runs them all."""
