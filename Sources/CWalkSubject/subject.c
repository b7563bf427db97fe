// The trampoline, the sigsegv-mode guard page, the subject callbacks (see walk_subject.h).
#define _GNU_SOURCE  // REG_RIP and the other gregs indices
#include "walk_subject.h"
#include "trampoline.h"
#include <signal.h>
#include <sys/mman.h>
#include <string.h>
#include <ucontext.h>

struct vu_walk_control vu_walk_control = {VU_WALK_CONTROL_MAGIC, 0};

uint64_t vu_walk_release_state(void) { return vu_walk_control.release; }
void vu_walk_set_release_state(uint64_t value) { vu_walk_control.release = value; }

// Hand-written so the tester knows every fact of the caller's frame: the return address
// (vu_walk_return_label), the stack pointer after the return (rsp at the int3), and the
// callee-saved registers (the sentinels; rbp = this frame's address). Its CFI is exact at
// every instruction.
__asm__(VU_WALK_TRAMPOLINE("vu_walk_call", "vu_walk_return_label", "    int3\n"));

__attribute__((noinline)) int64_t vu_walk_call_nested(int depth, const void *fn, const uint64_t args[6]) {
    if (depth <= 0) return vu_walk_call(fn, args);
    int64_t r = vu_walk_call_nested(depth - 1, fn, args);
    __asm__ volatile("" : "+r"(r) : : "memory");  // not a tail call: this frame stays
    return r;
}

extern char vu_walk_return_label[];
const void *vu_walk_return_address(void) { return vu_walk_return_label; }

// The guard page a sigsegv-mode subject is given as its bad pointer.
static void *vu_walk_guard;
static const unsigned long vu_walk_guard_size = 4096;

// The handler makes the guard page writable and returns: the faulting instruction runs
// again and succeeds. It never edits the interrupted context, so at every stop inside it
// the signal frame describes the real fault and the trampoline's truth still holds.
// mprotect is a plain system call (async-signal-safe in practice on Linux, though POSIX
// does not list it).
static void vu_walk_segv(int signal, siginfo_t *info, void *context) {
    (void)context;
    char *a = info->si_addr;
    if (vu_walk_guard && a >= (char *)vu_walk_guard && a < (char *)vu_walk_guard + vu_walk_guard_size) {
        mprotect(vu_walk_guard, vu_walk_guard_size, PROT_READ | PROT_WRITE);
        return;
    }
    // Not ours: die of it as the default action would.
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(signal, &dfl, 0);
}

void *vu_walk_install_segv_guard(void) {
    void *p = mmap(0, vu_walk_guard_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return 0;
    vu_walk_guard = p;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = vu_walk_segv;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, 0) != 0) return 0;
    return p;
}

int vu_walk_compare_bytes(const void *a, const void *b) {
    return (int)*(const unsigned char *)a - (int)*(const unsigned char *)b;
}

int vu_walk_compare_ints(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}
