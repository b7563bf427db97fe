// GNU extensions Swift's Glibc module leaves out.
#define _GNU_SOURCE
#include "vunwind.h"
#include <sys/uio.h>
#include <sys/auxv.h>

long vu_process_vm_readv(pid_t pid, void *local, size_t length, uint64_t remote) {
    struct iovec l = { .iov_base = local, .iov_len = length };
    struct iovec r = { .iov_base = (void *)(uintptr_t)remote, .iov_len = length };
    return (long)process_vm_readv(pid, &l, 1, &r, 1, 0);
}

unsigned long vu_getauxval(unsigned long type) { return getauxval(type); }
