#!/usr/bin/env bash
# The main job, end to end on this machine (what `make demo` runs): emit the vsyscall page,
# have tools no one here wrote judge its bytes and its CFI, call it from C, unwind through
# it with gdb, eu-stack and perf, live and from a core (and return the core's call with
# vunwind core), step every instruction under every unwinder (vunwind walk), and measure it
# beside the kernel.
#
#   scripts/demo.sh [BUILD_DIR]     (default .build/release; `make demo` builds it first)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-.build/release}
bin=$build/vunwind
work=$(mktemp -d "${TMPDIR:-/tmp}/vunwind-demo.XXXXXX")
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; rm -f "/tmp/perf-$p.map"; done
    rm -rf "$work"
}
trap cleanup EXIT

section() { printf '\n== %s\n' "$*"; }
# (Excerpts are cut with awk 'NR<=N', which reads to the end: head would exit early and, under
# pipefail, its writer's SIGPIPE would end the demo.)
say() { printf '   %s\n' "$*"; }

# C programs reach the page through its absolute symbols (include/vunwind/vsyscall.h).
cc_page() {
    local out=$1; shift
    cc -O1 -g -fno-omit-frame-pointer -fno-inline -no-pie -fno-pie -fno-plt -Wa,-mrelax-relocations=no \
       -I include "$@" include/vunwind/vsyscall.ld -L "$build" -lvunwind-vsyscall -Wl,-rpath,"$PWD/$build" -o "$out"
}

section "1. The page, emitted at run time: each instruction with the CFA rule the tracker derived (vunwind emit --listing)"
"$bin" emit --listing > "$work/listing.txt"
sed -n '1,14p' "$work/listing.txt"
say "... $(grep -c '^  6' "$work/listing.txt") instructions in $(grep -c ' at 0x' "$work/listing.txt") entries"

section "2. Judged by others: the same image as a file (vunwind emit --elf)"
"$bin" emit --elf "$work/page.so"
readelf -h -l "$work/page.so" | grep -E 'Type:|LOAD|NOTE|GNU_EH_FRAME|DYNAMIC' | sed 's/^ */   /'
for tool in "readelf -a -W" "eu-readelf -a" "llvm-readelf -a"; do
    warnings=$($tool "$work/page.so" 2>&1 >/dev/null | wc -l)
    say "$tool: $warnings warning lines"
done
readelf --debug-dump=frames-interp "$work/page.so" > "$work/readelf.txt"
"$bin" cfi --rows "$work/page.so" > "$work/ours.txt"
if cmp -s "$work/readelf.txt" "$work/ours.txt"; then
    say "readelf --debug-dump=frames-interp and vunwind cfi --rows: byte-identical ($(wc -l < "$work/ours.txt") lines)"
else
    diff "$work/readelf.txt" "$work/ours.txt" | awk 'NR<=20'
    exit 1
fi
sed -n '/FDE.*pc=0000550000001000/,/^$/p' "$work/readelf.txt" | sed 's/^/   /'

section "3. A C program calls the entries by address (examples/c/vgettimeofday.c)"
cc_page "$work/vgettimeofday" examples/c/vgettimeofday.c
"$work/vgettimeofday" | sed 's/^/   /'

section "4. Unwinders cross the page: main -> vu_spin_outer -> vu_spin_inner -> vgettimeofday, spinning"
cc_page "$work/spin" fixtures/programs/spin.c
"$work/spin" vgettimeofday > "$work/spin.out" &
pids+=($!)
spin=$!
for _ in $(seq 200); do grep -q ready "$work/spin.out" 2>/dev/null && break; sleep 0.05; done
say "spin is pid $spin; its page: $(grep '^6000000' /proc/$spin/maps | awk 'NR<=1')"
# An attach stops the loop wherever it is: 95% of the time inside the page. Show a stop
# there (a few attempts), since crossing the page is the point.
inside() { # TOOL... : its output, once frame #0 is in the page
    local out
    for _ in 1 2 3 4 5 6 7 8; do
        out=$("$@" 2>/dev/null || true)
        if grep -qE '^#0 +0x00006000000' <<<"$out"; then printf '%s\n' "$out"; return; fi
    done
    printf '%s\n' "$out"
}
say "gdb -batch -p $spin -ex bt (gdb reads the page's symbols and CFI through its JIT interface):"
inside gdb -batch -nx -p "$spin" -ex bt | grep '^#' | awk 'NR<=4' | sed 's/ at .*//; s/^/      /'
say "eu-stack -p $spin (libdwfl reads the shared mapping from /proc/PID/mem):"
inside eu-stack -p "$spin" | grep '^#' | awk 'NR<=4' | sed 's/^/      /'
if perf record -q -e cpu-clock -p "$spin" -o "$work/perf.data" -- sleep 1 >/dev/null 2>&1; then
    say "perf record -e cpu-clock -p $spin; perf report --sort symbol (names from /tmp/perf-$spin.map):"
    perf report -i "$work/perf.data" --stdio --sort symbol 2>/dev/null | grep -E '^ +[0-9]' | awk 'NR<=3' | sed 's/^ */      /'
else
    say "(perf cannot record here: kernel.perf_event_paranoid=$(cat /proc/sys/kernel/perf_event_paranoid))"
fi
kill -9 "$spin"; wait "$spin" 2>/dev/null || true

section "5. A core of a process that died inside vgettimeofday (SIGSEGV mode, bad pointer)"
cc_page "$work/debug_probe" fixtures/programs/debug_probe.c
pattern=$(cat /proc/sys/kernel/core_pattern)
if [[ $pattern == "|"* ]]; then
    say "(core_pattern is a pipe, '$pattern': the kernel hands cores to a collector, not to this directory)"
else
    status=0
    # (The braces take bash's own "Segmentation fault (core dumped)" report to /dev/null.)
    { (cd "$work" && ulimit -c unlimited && exec ./debug_probe crash vgettimeofday > probe.out 2>&1); } 2>/dev/null || status=$?
    say "debug_probe crash vgettimeofday: exit status $status (128 + SIGSEGV = 139)"
    core=$(ls -t "$work"/core* 2>/dev/null | head -1 || true)
    if [[ -n $core ]]; then
        say "gdb -batch -ex bt debug_probe $(basename "$core"):"
        gdb -batch -nx -ex bt "$work/debug_probe" "$core" 2>/dev/null | grep '^#' | awk '!seen[$0]++' | awk 'NR<=4' \
            | sed 's/ at .*//; s/^/      /'
        say "eu-stack --core $(basename "$core"):"
        # (eu-stack exits 1 when a thread's walk ends in an error: the timekeeper's does.)
        eu-stack --core "$core" -e "$work/debug_probe" 2>/dev/null | sed -n '/^TID/,/main/p' | awk 'NR<=5' | sed 's/^/      /' || true
        say "vunwind core --rewrite: the call returns -EFAULT, and the debuggers see its caller:"
        "$bin" core "$core" --rewrite "$work/core.returned" | sed -n '1,12p' | sed 's/^/      /'
        say "gdb -batch -ex bt -ex 'p \$rax' on the rewritten core:"
        gdb -batch -nx -ex bt -ex 'p $rax' "$work/debug_probe" "$work/core.returned" 2>/dev/null | grep -E '^#[0-2] |^\$' | awk '!seen[$0]++' \
            | sed 's/ at .*//; s/^/      /'
    else
        say "(no core was written: core_pattern '$pattern', ulimit -c $(ulimit -c))"
    fi
fi

section "6. Every instruction, every unwinder: each path of each entry stepped and judged against ground truth (vunwind walk)"
"$bin" walk --no-gdb > "$work/walk.txt" || true
sed -n '1,9p' "$work/walk.txt"
say "..."
grep 'stops judged' "$work/walk.txt" | sed 's/^/   /'
say "(with gdb as a ninth walker: vunwind walk; the vDSO: --subject vdso; any library: --subject 'FILE:SYMBOL(ARGS)')"

section "7. Speed, beside the anchors in the same run (vunwind bench)"
"$bin" bench vsyscall
echo
"$bin" bench cfi
