// The SIGSEGV/SIGBUS probe (see vunwind_probe.h). The handler records the siginfo and
// siglongjmps back to the probe; SA_NODEFER keeps the signal unblocked, and sigsetjmp
// saves the mask, so the probe can run again right after a fault.
#define _GNU_SOURCE
#include "vunwind_probe.h"
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <ucontext.h>

static sigjmp_buf probe_jump;
static volatile sig_atomic_t probe_armed;
static struct vu_probe_report *volatile probe_report;

static void probe_handler(int sig, siginfo_t *info, void *context) {
    ucontext_t *uc = context;
    if (!probe_armed) {
        // Not ours (cannot happen while the probe runs single-threaded): die as usual.
        signal(sig, SIG_DFL);
        return;
    }
    probe_armed = 0;
    struct vu_probe_report *r = probe_report;
    r->signaled = 1;
    r->signo = sig;
    r->code = info->si_code;
    r->address = (uint64_t)(uintptr_t)info->si_addr;
    r->rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
    siglongjmp(probe_jump, 1);
}

typedef long (*probe_function)(long, long, long, long, long, long);

static int arm(struct sigaction *old_segv, struct sigaction *old_bus, struct vu_probe_report *report) {
    memset(report, 0, sizeof *report);
    probe_report = report;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = probe_handler;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, old_segv) != 0) return -1;
    if (sigaction(SIGBUS, &sa, old_bus) != 0) {
        sigaction(SIGSEGV, old_segv, NULL);
        return -1;
    }
    return 0;
}

static void disarm(const struct sigaction *old_segv, const struct sigaction *old_bus) {
    probe_armed = 0;
    sigaction(SIGSEGV, old_segv, NULL);
    sigaction(SIGBUS, old_bus, NULL);
}

int vu_probe_call(const void *function, long a1, long a2, long a3, long a4, long a5, long a6,
                  struct vu_probe_report *report) {
    struct sigaction old_segv, old_bus;
    if (arm(&old_segv, &old_bus, report) != 0) return -1;
    probe_function f = (probe_function)function;
    if (sigsetjmp(probe_jump, 1) == 0) {
        probe_armed = 1;
        long value = f(a1, a2, a3, a4, a5, a6);
        probe_armed = 0;
        report->value = value;
    }
    disarm(&old_segv, &old_bus);
    return 0;
}

int vu_probe_store(uint64_t address, uint8_t value, struct vu_probe_report *report) {
    struct sigaction old_segv, old_bus;
    if (arm(&old_segv, &old_bus, report) != 0) return -1;
    if (sigsetjmp(probe_jump, 1) == 0) {
        probe_armed = 1;
        *(volatile uint8_t *)(uintptr_t)address = value;
        probe_armed = 0;
    }
    disarm(&old_segv, &old_bus);
    return 0;
}

void vu_store_byte(uint64_t address, uint8_t value) { *(volatile uint8_t *)(uintptr_t)address = value; }
