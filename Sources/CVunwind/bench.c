// The `vunwind bench vsyscall` harness (see vunwind_bench.h).
#define _GNU_SOURCE
#include "vunwind_bench.h"
#include <sys/resource.h>

#if !defined(__x86_64__)
#error "the vsyscall benchmark is x86-64 only"
#endif

typedef long (*vu_bench_fn)(long, long, long);

/// rdtscp waits for every earlier instruction to execute; the lfence keeps later ones
/// from starting before it has read the TSC.
static inline __attribute__((always_inline)) uint64_t vu_bench_tsc(void) {
    uint32_t lo, hi, aux;
    __asm__ volatile("rdtscp\n\tlfence" : "=a"(lo), "=d"(hi), "=c"(aux) : : "memory");
    (void)aux;
    return ((uint64_t)hi << 32) | lo;
}

__attribute__((noinline)) uint64_t vu_bench_loop(const void *function, long a1, long a2, long a3, uint64_t n) {
    vu_bench_fn f = (vu_bench_fn)function;
    uint64_t t0 = vu_bench_tsc();
    for (uint64_t i = 0; i < n; i++) f(a1, a2, a3);
    uint64_t t1 = vu_bench_tsc();
    return t1 - t0;
}

long vu_bench_call(const void *function, long a1, long a2, long a3) {
    return ((vu_bench_fn)function)(a1, a2, a3);
}

__attribute__((noinline)) long vu_bench_nothing(void *a, void *b) {
    (void)a;
    (void)b;
    return 0;
}

static inline long vu_bench_syscall2(long nr, long a1, long a2) {
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a1), "S"(a2) : "rcx", "r11", "memory");
    return ret;
}

__attribute__((noinline)) long vu_bench_getpid_syscall(void *a, void *b) {
    (void)a;
    (void)b;
    return vu_bench_syscall2(39, 0, 0);  // __NR_getpid
}

__attribute__((noinline)) long vu_bench_gettimeofday_syscall(void *tv, void *tz) {
    return vu_bench_syscall2(96, (long)tv, (long)tz);  // __NR_gettimeofday
}

void vu_bench_get_functions(struct vu_bench_functions *out) {
    out->nothing = (const void *)&vu_bench_nothing;
    out->getpid_syscall = (const void *)&vu_bench_getpid_syscall;
    out->gettimeofday_syscall = (const void *)&vu_bench_gettimeofday_syscall;
}

long vu_bench_context_switches(void) {
    struct rusage r;
    if (getrusage(RUSAGE_THREAD, &r) != 0) return -1;
    return r.ru_nvcsw + r.ru_nivcsw;
}
