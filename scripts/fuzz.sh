#!/usr/bin/env bash
# make fuzz [SECONDS=N] [TARGETS="cfi expression elf note core image core-analysis"] [RUNS=N SEED=S]
#   (the script itself reads FUZZ_SECONDS: bash's own SECONDS counts the shell's age)
#
# Builds each fuzz target of fuzz/targets with libFuzzer and AddressSanitizer
# (swiftc -sanitize=fuzzer,address; the parsers' modules are compiled the same way, so
# libFuzzer sees their coverage) and runs it from its seed corpus in fixtures/fuzz/TARGET.
#
#   SECONDS=N   run each target N seconds (default 60); new inputs go to .build/fuzz/corpus
#   RUNS=N      instead, a deterministic smoke: N inputs per target with -seed=SEED (CI)
#
# A crash, a leak, a timeout (a single input over 10 s) or an allocation over 2 GiB stops
# the target, leaves the input in .build/fuzz/artifacts/TARGET/, and makes this script fail.
# The last line per target is libFuzzer's: executions, coverage (cov: edges, ft: features).
set -euo pipefail
cd "$(dirname "$0")/.."

SWIFTC=${SWIFTC:-$(command -v swiftc)}
TOOLCHAIN_BIN=$(dirname "$(readlink -f "$SWIFTC")")
CLANG=${CLANG:-$TOOLCHAIN_BIN/clang}
B=.build/fuzz
TARGETS=${TARGETS:-cfi expression elf note core image core-analysis}
SECONDS_EACH=${FUZZ_SECONDS:-60}
SEED=${SEED:-1}
mkdir -p "$B/CDecompress"

# The library modules, instrumented (only when a source changed).
flags=(-parse-as-library -O -sanitize=fuzzer,address -I "$B" -I "$B/CDecompress")
build_module() {  # NAME SOURCES...
    local name=$1; shift
    local stamp="$B/lib$name.a"
    if [ -f "$stamp" ] && [ -z "$(find "$@" -newer "$stamp" 2>/dev/null | head -1)" ]; then return; fi
    echo "fuzz: building $name" >&2
    "$SWIFTC" -emit-library -static -emit-module -module-name "$name" "${flags[@]}" \
        -o "$B/lib$name.a" -emit-module-path "$B/$name.swiftmodule" "$@" 2>&1 | grep -v "Cannot export local symbol" >&2 || true
    [ -f "$B/lib$name.a" ]
}
# C targets: compiled with the fuzzer's coverage and ASan, each with a module map.
c_module() {  # NAME INCLUDE_DIR SOURCES...
    local name=$1 include=$2; shift 2
    local lib="$B/lib$name.a"
    if [ -f "$lib" ] && [ -z "$(find "$@" "$include" -newer "$lib" 2>/dev/null | head -1)" ]; then return; fi
    mkdir -p "$B/$name/obj"
    for c in "$@"; do
        "$CLANG" -c -O1 -fsanitize=fuzzer-no-link,address -I"$include" -o "$B/$name/obj/$(basename "$c" .c).o" "$c"
    done
    rm -f "$lib"
    ar rcs "$lib" "$B/$name"/obj/*.o
    printf 'module %s {\n    umbrella "%s"\n    export *\n}\n' "$name" "$PWD/$include" > "$B/$name/module.modulemap"
}
c_module CDecompress Sources/CDecompress/include Sources/CDecompress/*.c
c_module CVunwind Sources/CVunwind/include Sources/CVunwind/*.c
c_module CSanitizerHooks Sources/CSanitizerHooks/include Sources/CSanitizerHooks/*.c
flags+=(-I "$B/CVunwind" -I "$B/CSanitizerHooks" -I Sources/CLibdw)
build_module Locking Sources/Locking/*.swift
build_module Bytes Sources/Bytes/*.swift
build_module DwarfCFI $(find Sources/DwarfCFI -name '*.swift')
build_module ELF $(find Sources/ELF -name '*.swift')
build_module Unwind $(find Sources/Unwind -name '*.swift')
build_module CoreDump $(find Sources/CoreDump -name '*.swift')

status=0
for t in $TARGETS; do
    exe="$B/fuzz-$t"
    extra=()
    case $t in
        image) extra=(Sources/RemoteUnwind/MemoryImage.swift) ;;  # RemoteUnwind's other files need libunwind-ptrace
    esac
    if [ ! -f "$exe" ] || [ -n "$(find fuzz/targets "$B"/lib*.a "${extra[@]}" -newer "$exe" | head -1)" ]; then
        "$SWIFTC" "${flags[@]}" -o "$exe" "fuzz/targets/$t.swift" fuzz/targets/Shared.swift "${extra[@]}" \
            -L "$B" -lCoreDump -lUnwind -lELF -lDwarfCFI -lBytes -lLocking -lCVunwind -lCSanitizerHooks -lCDecompress \
            -ldw -lelf -lunwind -lunwind-x86_64 -llzma -lz -lzstd -ldl -lpthread 2>&1 | grep -v "Cannot export local symbol" >&2 || true
    fi
    corpus="$B/corpus/$t"
    artifacts="$B/artifacts/$t/"
    mkdir -p "$corpus" "$artifacts"
    common=(-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 -max_len=65536 -artifact_prefix="$artifacts"
            -print_final_stats=1)
    if [ -n "${RUNS:-}" ]; then
        # Deterministic: the committed seeds only (copied: libFuzzer adds what it finds to
        # its first corpus folder), a fixed seed, a fixed number of inputs.
        smoke="$B/smoke/$t"
        rm -rf "$smoke" && mkdir -p "$smoke" && cp "fixtures/fuzz/$t"/* "$smoke/"
        run=("$exe" "${common[@]}" -seed="$SEED" -runs="$RUNS" "$smoke")
    else
        run=("$exe" "${common[@]}" -max_total_time="$SECONDS_EACH" "$corpus" "fixtures/fuzz/$t")
    fi
    log="$B/fuzz-$t.log"
    if ASAN_OPTIONS=detect_leaks=1 "${run[@]}" > "$log" 2>&1; then
        execs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
        cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+' || true)
        echo "fuzz $t: ok, $execs inputs, $cov"
    else
        echo "fuzz $t: FAILED (see $log and $artifacts)" >&2
        grep -E "ERROR|SUMMARY|Test unit written" "$log" | head -5 >&2 || true
        status=1
    fi
done
exit $status
