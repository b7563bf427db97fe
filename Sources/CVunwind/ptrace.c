// Fixed-signature wrappers for the variadic ptrace(2).
#include "vunwind.h"
#include <sys/ptrace.h>
#include <stddef.h>

long vu_ptrace_traceme(void) { return ptrace(PTRACE_TRACEME, 0, NULL, NULL); }
long vu_ptrace_getregs(pid_t pid, struct user_regs_struct *regs) { return ptrace(PTRACE_GETREGS, pid, NULL, regs); }
long vu_ptrace_setregs(pid_t pid, const struct user_regs_struct *regs) {
    return ptrace(PTRACE_SETREGS, pid, NULL, (void *)regs);
}
long vu_ptrace_cont(pid_t pid, int signal) { return ptrace(PTRACE_CONT, pid, NULL, (void *)(long)signal); }
long vu_ptrace_singlestep(pid_t pid, int signal) {
    return ptrace(PTRACE_SINGLESTEP, pid, NULL, (void *)(long)signal);
}
long vu_ptrace_detach(pid_t pid, int signal) { return ptrace(PTRACE_DETACH, pid, NULL, (void *)(long)signal); }
long vu_ptrace_seize(pid_t pid, unsigned long options) { return ptrace(PTRACE_SEIZE, pid, NULL, (void *)options); }
long vu_ptrace_interrupt(pid_t pid) { return ptrace(PTRACE_INTERRUPT, pid, NULL, NULL); }
long vu_ptrace_attach(pid_t pid) { return ptrace(PTRACE_ATTACH, pid, NULL, NULL); }
long vu_ptrace_getsiginfo(pid_t pid, void *siginfo) { return ptrace(PTRACE_GETSIGINFO, pid, NULL, siginfo); }
