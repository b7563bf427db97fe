// The writer half of the vvar lock, in C11 atomics so the ordering is explicit: the
// readers' half is emitted machine code (x86 keeps loads in order, so plain loads in
// sequence2, data, sequence1 order are enough there).
#include "vunwind.h"
#include <stdatomic.h>
#include <cpuid.h>

#define SEQ1(v) ((_Atomic uint32_t *)((char *)(v) + 0x00))
#define SEQ2(v) ((_Atomic uint32_t *)((char *)(v) + 0x04))

void vu_vvar_write_begin(void *vvar) {
    atomic_fetch_add_explicit(SEQ1(vvar), 1, memory_order_relaxed);
    // Data stores may not move above the sequence1 bump.
    atomic_thread_fence(memory_order_release);
}

void vu_vvar_write_end(void *vvar) {
    // Data stores may not move below the sequence2 bump.
    atomic_thread_fence(memory_order_release);
    atomic_fetch_add_explicit(SEQ2(vvar), 1, memory_order_relaxed);
}

void vu_vvar_store64(void *vvar, unsigned offset, uint64_t value) {
    atomic_store_explicit((_Atomic uint64_t *)((char *)vvar + offset), value, memory_order_relaxed);
}

void vu_vvar_store32(void *vvar, unsigned offset, uint32_t value) {
    atomic_store_explicit((_Atomic uint32_t *)((char *)vvar + offset), value, memory_order_relaxed);
}

uint64_t vu_rdtscp(uint32_t *aux) {
    uint32_t lo, hi, c;
    __asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(c));
    if (aux) *aux = c;
    return ((uint64_t)hi << 32) | lo;
}

void vu_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4]) {
    __cpuid_count(leaf, subleaf, out[0], out[1], out[2], out[3]);
}

void vu_vvar_write_torture(void *vvar, uint64_t generation) {
    vu_vvar_write_begin(vvar);
    for (unsigned i = 0; i < 8; i++) vu_vvar_store64(vvar, 0x80 + 8 * i, generation * (2 * i + 1));
    vu_vvar_write_end(vvar);
}
