// fixture-stopper: a process that stops itself at a known place for a tracing test.
//
//   fixture-stopper call     main -> vu_stopper_outer -> vu_stopper_middle -> vu_stopper_leaf
//                            -> raise(SIGSTOP)
//   fixture-stopper signal   main -> vu_stopper_spin (spins); the tracer delivers SIGUSR1;
//                            handler -> vu_stopper_leaf -> raise(SIGSTOP)
//
// It calls PTRACE_TRACEME first, so the test that spawned it is its tracer and sees the
// stop. Callee-saved registers hold the sentinels below while the leaf runs:
// rbx=0x1111..., r12=0x1212..., r13=0x1313..., r14=0x1414..., r15=0x1515...
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <unistd.h>

#define SENTINELS                                   \
    "movabs $0x1111111111111111, %%rbx\n\t"         \
    "movabs $0x1212121212121212, %%r12\n\t"         \
    "movabs $0x1313131313131313, %%r13\n\t"         \
    "movabs $0x1414141414141414, %%r14\n\t"         \
    "movabs $0x1515151515151515, %%r15\n\t"

static volatile int vu_stopper_flag;

__attribute__((noinline)) void vu_stopper_leaf(void) {
    raise(SIGSTOP);
    __asm__ volatile("" ::: "memory");  // no tail call: keep this frame on the stack
}

__attribute__((noinline)) void vu_stopper_middle(void (*next)(void)) {
    __asm__ volatile(SENTINELS ::: "rbx", "r12", "r13", "r14", "r15");
    next();  // callee-saved registers keep the sentinels across this call
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void vu_stopper_outer(void) {
    vu_stopper_middle(vu_stopper_leaf);
    __asm__ volatile("" ::: "memory");
}

// The spin loop is one asm statement so nothing the compiler does can disturb the
// sentinels while the signal may arrive.
__attribute__((noinline)) void vu_stopper_spin(void) {
    __asm__ volatile(SENTINELS
                     "1: cmpl $0, %0\n\t"
                     "je 1b\n\t"
                     : : "m"(vu_stopper_flag) : "rbx", "r12", "r13", "r14", "r15", "memory");
}

static void handler(int sig, siginfo_t *info, void *context) {
    (void)sig; (void)info; (void)context;
    vu_stopper_leaf();
    vu_stopper_flag = 1;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: fixture-stopper call|signal\n");
        return 64;
    }
    if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0) {
        perror("PTRACE_TRACEME");
        return 70;
    }
    if (strcmp(argv[1], "call") == 0) {
        vu_stopper_outer();
    } else if (strcmp(argv[1], "signal") == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = handler;
        sa.sa_flags = SA_SIGINFO;
        sigaction(SIGUSR1, &sa, NULL);
        // Tell the tracer we are about to spin: it sends SIGUSR1 after this stop.
        raise(SIGUSR2);
        vu_stopper_spin();
    } else {
        fprintf(stderr, "fixture-stopper: unknown mode %s\n", argv[1]);
        return 64;
    }
    return 0;
}
