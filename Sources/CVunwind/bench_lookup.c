// The lookups `vunwind bench registration` times: by pc, in the two in-process registries
// the page is registered with. libgcc's _Unwind_Find_FDE (what every _Unwind_Backtrace
// step does first) and nongnu libunwind's unw_get_proc_info_by_ip (what unw_step does
// first), each bound from its own library (libunwind.so.8 also exports _Unwind_* names).
#define _GNU_SOURCE
#include "vunwind_bench.h"
#include <dlfcn.h>
#include <libunwind.h>

struct vu_eh_bases {
    void *tbase, *dbase, *func;
};

static const void *(*find_fde)(void *, struct vu_eh_bases *);
static int (*proc_info_by_ip)(unw_addr_space_t, unw_word_t, unw_proc_info_t *, void *);
static unw_addr_space_t *local_space;

int vu_bench_lookup_bind(void) {
    void *gcc = dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_LOCAL);
    void *unw = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
    if (!gcc || !unw) return -1;
    find_fde = (const void *(*)(void *, struct vu_eh_bases *))dlsym(gcc, "_Unwind_Find_FDE");
    proc_info_by_ip = (int (*)(unw_addr_space_t, unw_word_t, unw_proc_info_t *, void *))dlsym(unw, "_ULx86_64_get_proc_info_by_ip");
    local_space = (unw_addr_space_t *)dlsym(unw, "_ULx86_64_local_addr_space");
    return find_fde && proc_info_by_ip && local_space ? 0 : -2;
}

static inline __attribute__((always_inline)) uint64_t tsc(void) {
    uint32_t lo, hi, aux;
    __asm__ volatile("rdtscp\n\tlfence" : "=a"(lo), "=d"(hi), "=c"(aux) : : "memory");
    (void)aux;
    return ((uint64_t)hi << 32) | lo;
}

uint64_t vu_bench_libgcc_lookups(uint64_t pc, uint64_t n, uint64_t *found) {
    struct vu_eh_bases bases;
    uint64_t hits = 0;
    uint64_t t0 = tsc();
    // libgcc looks up pc - 1 for a return address: give it the address itself + 1.
    for (uint64_t i = 0; i < n; i++) hits += find_fde((void *)(uintptr_t)(pc + 1), &bases) != 0;
    uint64_t t1 = tsc();
    *found = hits;
    return t1 - t0;
}

uint64_t vu_bench_libunwind_lookups(uint64_t pc, uint64_t n, uint64_t *found) {
    unw_proc_info_t info;
    uint64_t hits = 0;
    uint64_t t0 = tsc();
    for (uint64_t i = 0; i < n; i++) hits += proc_info_by_ip(*local_space, (unw_word_t)pc, &info, 0) == 0 && info.start_ip <= pc;
    uint64_t t1 = tsc();
    *found = hits;
    return t1 - t0;
}
