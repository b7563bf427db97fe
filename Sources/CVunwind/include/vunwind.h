// CVunwind: the C that must be C. ptrace(2) is variadic (Swift cannot call it), so each
// request vunwind uses has a fixed-signature wrapper here.
#pragma once
#include <sys/types.h>
#include <sys/user.h>
#include <stdint.h>

long vu_ptrace_traceme(void);
long vu_ptrace_getregs(pid_t pid, struct user_regs_struct *regs);
long vu_ptrace_setregs(pid_t pid, const struct user_regs_struct *regs);
long vu_ptrace_cont(pid_t pid, int signal);
long vu_ptrace_singlestep(pid_t pid, int signal);
long vu_ptrace_detach(pid_t pid, int signal);
long vu_ptrace_seize(pid_t pid, unsigned long options);
long vu_ptrace_interrupt(pid_t pid);
long vu_ptrace_attach(pid_t pid);
long vu_ptrace_getsiginfo(pid_t pid, void *siginfo);

// process_vm_readv and getauxval are GNU extensions the Swift Glibc module does not export.
long vu_process_vm_readv(pid_t pid, void *local, size_t length, uint64_t remote);
unsigned long vu_getauxval(unsigned long type);
