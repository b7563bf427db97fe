// ptrace wrappers for the core writer (see vunwind_core.h).
#include "vunwind_core.h"
#include <sys/ptrace.h>
#include <sys/uio.h>

long vu_ptrace_getfpregs(pid_t pid, void *buffer512) { return ptrace(PTRACE_GETFPREGS, pid, NULL, buffer512); }

long vu_ptrace_getregset(pid_t pid, unsigned type, void *buffer, size_t *size) {
    struct iovec v = { .iov_base = buffer, .iov_len = *size };
    long r = ptrace(PTRACE_GETREGSET, pid, (void *)(unsigned long)type, &v);
    if (r == 0) *size = v.iov_len;
    return r;
}
