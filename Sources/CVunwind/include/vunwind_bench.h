// The `vunwind bench vsyscall` harness: one timing loop for every candidate, so each pays
// the same loop, the same indirect call and the same rdtscp, and differs only in the
// function called.
#pragma once
#include <stdint.h>

/// Calls `function` `n` times as `long function(long a1, long a2, long a3)` (rdi, rsi, rdx
/// under the x86-64 System V ABI: a function of fewer arguments, or of an `int` first
/// argument, receives what it expects and ignores the rest) and returns the TSC cycles the
/// n calls took: `rdtscp; lfence` before the first call and after the last, so nothing
/// is timed outside the pair and every call is inside it.
uint64_t vu_bench_loop(const void *function, long a1, long a2, long a3, uint64_t n);

/// The floor: returns 0 and does nothing else (xor eax, eax; ret).
long vu_bench_nothing(void *a, void *b);
/// getpid(2) through the `syscall` instruction (the arguments are ignored).
long vu_bench_getpid_syscall(void *a, void *b);
/// gettimeofday(2) through the `syscall` instruction: the kernel's return value as is.
long vu_bench_gettimeofday_syscall(void *tv, void *tz);

/// The addresses of the three functions above, as the loop takes them.
struct vu_bench_functions {
    const void *nothing;
    const void *getpid_syscall;
    const void *gettimeofday_syscall;
};
void vu_bench_get_functions(struct vu_bench_functions *out);

/// Context switches (voluntary and involuntary) of the calling thread so far
/// (getrusage(RUSAGE_THREAD)): a batch during which this changed was preempted, and timed
/// another task too.
long vu_bench_context_switches(void);

/// Calls `function` once as the loop does and returns its result (a sanity check that a
/// candidate succeeds before it is timed).
long vu_bench_call(const void *function, long a1, long a2, long a3);

/// Binds libgcc's _Unwind_Find_FDE and libunwind's local unw_get_proc_info_by_ip for the
/// lookup loops below. 0, or -1/-2 when a library or symbol is missing.
int vu_bench_lookup_bind(void);
/// `n` lookups of `pc` (TSC cycles for all n); `found` counts the ones that found an entry.
uint64_t vu_bench_libgcc_lookups(uint64_t pc, uint64_t n, uint64_t *found);
uint64_t vu_bench_libunwind_lookups(uint64_t pc, uint64_t n, uint64_t *found);

/// What vu_bench_unwind measured: TSC cycles for all n walks of each in-process unwinder
/// and the frames each walked; the registers (DWARF order: rax rdx rcx rbx rsi rdi rbp rsp
/// r8-r15 rip) and the stack from rsp - 128 at the stop, for our own unwinder.
struct vu_bench_unwind_result {
    uint64_t libgcc_cycles, libunwind_cycles;
    uint64_t libgcc_frames, libunwind_frames;
    uint64_t regs[17];
    uint64_t stack_base, stack_length;
    uint8_t stack[65536];
};
/// Calls `entry(args[0], args[1], args[2])` under `depth` nested frames and, stopped on its
/// first instruction, times `n` walks of `frames` frames (from the page's) by libgcc and by
/// libunwind local. 0, or negative: a library or symbol missing (-1, -2), sigaction (-3),
/// a walker that did not reach `frames` frames (-4).
int vu_bench_unwind(const void *entry, const long args[3], int depth, uint64_t n, int frames,
                    struct vu_bench_unwind_result *out);
