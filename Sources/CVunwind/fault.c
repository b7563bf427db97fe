// The EFAULT fixup handler. Async-signal-safe by construction: it reads a static table
// written before the handler was installed, edits the ucontext, and otherwise only calls
// sigaction or the previous handler.
#define _GNU_SOURCE
#include "vunwind.h"
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <ucontext.h>
#include <errno.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#define VU_MAX_FIXUPS 64

static uint64_t fixup_store[VU_MAX_FIXUPS];
static uint64_t fixup_landing[VU_MAX_FIXUPS];
static _Atomic unsigned fixup_count;
static _Atomic uint64_t fixups_taken;
static struct sigaction previous_segv, previous_bus;
static int installed;

/* Hands a signal that is not ours to what was installed before, as the kernel would have
   delivered it to that disposition:
   - a handler runs with its own sa_mask added and, unless SA_NODEFER, the signal blocked;
     with SA_RESETHAND it is called once, and its disposition becomes SIG_DFL;
   - SIG_DFL (and SIG_IGN for a fault the kernel raised, which the kernel cannot ignore):
     a kernel fault restores the default and returns, so the instruction faults again and
     the kernel takes the default action with the faulting registers (the core shows the
     fault, not this handler); a signal someone sent (kill, raise, tgkill: si_code <= 0)
     is sent again, to this thread with the same siginfo, and taken with the default
     action when the handler returns;
   - SIG_IGN for a sent signal: ignored.
   Everything here is async-signal-safe: sigaction, pthread_sigmask, a raw syscall. */
static void chain(int sig, siginfo_t *info, void *context) {
    struct sigaction *prev = sig == SIGSEGV ? &previous_segv : &previous_bus;
    int sent = info->si_code <= 0;
    int is_handler = (prev->sa_flags & SA_SIGINFO) ? prev->sa_sigaction != NULL
                                                   : (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN);
    if (is_handler) {
        struct sigaction call = *prev;
        if (prev->sa_flags & SA_RESETHAND) {
            prev->sa_handler = SIG_DFL;
            prev->sa_flags &= ~(SA_SIGINFO | SA_RESETHAND);
        }
        sigset_t saved, block = call.sa_mask;
        pthread_sigmask(SIG_BLOCK, &block, &saved);
        if (call.sa_flags & SA_NODEFER) {
            sigset_t self;
            sigemptyset(&self);
            sigaddset(&self, sig);
            pthread_sigmask(SIG_UNBLOCK, &self, NULL);
        }
        if (call.sa_flags & SA_SIGINFO) call.sa_sigaction(sig, info, context);
        else call.sa_handler(sig);
        pthread_sigmask(SIG_SETMASK, &saved, NULL);
        return;
    }
    if (prev->sa_handler == SIG_IGN && sent) return;
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, NULL);
    if (sent) {
        /* Pending while this handler runs (the signal is blocked here), delivered with the
           default action on the interrupted context when it returns. */
        syscall(SYS_rt_tgsigqueueinfo, getpid(), syscall(SYS_gettid), sig, info);
    }
}

static void handler(int sig, siginfo_t *info, void *context) {
    ucontext_t *uc = context;
    uint64_t rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
    // Only faults the kernel raised (si_code > 0): a SIGSEGV someone sent with kill() while
    // a thread sits on a listed store is not a fault of that store.
    unsigned n = info->si_code > 0 ? atomic_load_explicit(&fixup_count, memory_order_acquire) : 0;
    for (unsigned i = 0; i < n; i++) {
        if (fixup_store[i] == rip) {
            uc->uc_mcontext.gregs[REG_RIP] = (greg_t)fixup_landing[i];
            atomic_fetch_add_explicit(&fixups_taken, 1, memory_order_relaxed);
            return;
        }
    }
    chain(sig, info, context);
}

int vu_fixups_install(const uint64_t *pairs, unsigned count) {
    if (installed) { errno = EBUSY; return -1; }
    if (count > VU_MAX_FIXUPS) { errno = E2BIG; return -1; }
    for (unsigned i = 0; i < count; i++) {
        fixup_store[i] = pairs[2 * i];
        fixup_landing[i] = pairs[2 * i + 1];
    }
    atomic_store_explicit(&fixup_count, count, memory_order_release);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &previous_segv) != 0) return -1;
    if (sigaction(SIGBUS, &sa, &previous_bus) != 0) {
        sigaction(SIGSEGV, &previous_segv, NULL);
        return -1;
    }
    installed = 1;
    return 0;
}

/* Puts the previous handler back unless someone installed another after ours (then ours
   stays reachable through their chaining, with an empty table: it only forwards). */
static void restore(int sig, const struct sigaction *previous) {
    struct sigaction current;
    if (sigaction(sig, NULL, &current) == 0 && (current.sa_flags & SA_SIGINFO) && current.sa_sigaction == handler)
        sigaction(sig, previous, NULL);
}

int vu_fixups_uninstall(void) {
    if (!installed) { errno = ENOENT; return -1; }
    atomic_store_explicit(&fixup_count, 0, memory_order_release);
    restore(SIGSEGV, &previous_segv);
    restore(SIGBUS, &previous_bus);
    installed = 0;
    return 0;
}

/* Puts the fixup handler back on top when a handler installed after it took SIGSEGV or
   SIGBUS: that handler becomes the one faults that are not ours are handed to. */
int vu_fixups_reassert(void) {
    if (!installed) { errno = ENOENT; return -1; }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    int signals[2] = {SIGSEGV, SIGBUS};
    for (int i = 0; i < 2; i++) {
        struct sigaction current;
        if (sigaction(signals[i], NULL, &current) != 0) return -1;
        if ((current.sa_flags & SA_SIGINFO) && current.sa_sigaction == handler) continue;
        if (sigaction(signals[i], &sa, signals[i] == SIGSEGV ? &previous_segv : &previous_bus) != 0) return -1;
    }
    return 0;
}

uint64_t vu_fixups_taken(void) { return atomic_load_explicit(&fixups_taken, memory_order_relaxed); }
