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
