// After fork: the child gets a vvar of its own (see vunwind.h, vu_fork_protect).
//
// The readers' vvar is shared memory, written by the parent's timekeeper thread, which a
// child does not have. Left as it is, a child reads a clock someone else keeps: if the
// parent dies in the middle of an update, the two counters never match again and every
// clock call in the child spins. The handler below gives the child a private copy of the
// page at the same address, in syscall mode: the child's entries all take their fallback
// (the real syscall), always right, never spinning, and no child can disturb the parent.
// It runs in the child right after fork and uses only async-signal-safe calls.
#include "vunwind.h"
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

static _Atomic uint64_t protected_vvar;
static pthread_once_t registered = PTHREAD_ONCE_INIT;
static int registration_failed;

static void child_after_fork(void) {
    uint64_t address = atomic_load_explicit(&protected_vvar, memory_order_acquire);
    if (!address) return;
    unsigned char copy[4096];
    memcpy(copy, (const void *)(uintptr_t)address, sizeof copy);
    void *p = mmap((void *)(uintptr_t)address, sizeof copy, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (p == MAP_FAILED) return;
    memcpy(p, copy, sizeof copy);
    // A consistent record (the counters equal), and every entry through the syscall.
    uint32_t zero = 0, syscall_mode = 1;
    memcpy((char *)p + 0x00, &zero, 4);
    memcpy((char *)p + 0x04, &zero, 4);
    memcpy((char *)p + 0x08, &syscall_mode, 4);
    mprotect(p, sizeof copy, PROT_READ);
}

static void register_handler(void) { registration_failed = pthread_atfork(NULL, NULL, child_after_fork) != 0; }

int vu_fork_protect(uint64_t vvar_address) {
    pthread_once(&registered, register_handler);
    if (registration_failed) return -1;
    atomic_store_explicit(&protected_vvar, vvar_address, memory_order_release);
    return 0;
}

void vu_fork_unprotect(void) { atomic_store_explicit(&protected_vvar, 0, memory_order_release); }
