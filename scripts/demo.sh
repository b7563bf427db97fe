#!/usr/bin/env bash
# The main job, end to end on this machine: what `make demo` runs.
set -euo pipefail
bin=${1:-.build/release/vunwind}
echo "== The running kernel's vDSO: its CFI, evaluated (vunwind cfi --vdso --rows)"
"$bin" cfi --vdso --rows
echo
echo "== Benchmarks beside their anchors (vunwind bench)"
"$bin" bench
