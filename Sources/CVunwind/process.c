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

#include <sys/mman.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int vu_memfd_create(const char *name) { return memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING); }

int vu_memfd_with_bytes(const char *name, const void *data, unsigned long size) {
    int fd = vu_memfd_create(name);
    if (fd < 0) return -1;
    const char *p = data;
    unsigned long done = 0;
    while (done < size) {
        ssize_t n = write(fd, p + done, size - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            close(fd);
            errno = e;
            return -1;
        }
        done += (unsigned long)n;
    }
    return fd;
}
int vu_add_seals(int fd, int seals) { return fcntl(fd, F_ADD_SEALS, seals); }
int vu_get_seals(int fd) { return fcntl(fd, F_GET_SEALS); }

#include <sys/syscall.h>
#ifndef __NR_mseal
#define __NR_mseal 462
#endif
int vu_mseal(uint64_t address, uint64_t length) { return (int)syscall(__NR_mseal, address, length, 0UL); }

#include <string.h>
#include <sys/timex.h>
int vu_kernel_clock_get(long *tick, long *frequency) {
    struct timex t;
    memset(&t, 0, sizeof t);
    if (adjtimex(&t) < 0) return -1;
    *tick = t.tick;
    *frequency = t.freq;
    return 0;
}
int vu_kernel_clock_set(long tick, long frequency) {
    struct timex t;
    memset(&t, 0, sizeof t);
    t.modes = ADJ_TICK | ADJ_FREQUENCY;
    t.tick = tick;
    t.freq = frequency;
    return adjtimex(&t) < 0 ? -1 : 0;
}
int vu_kernel_clock_slew(long microseconds) {
    struct timex t;
    memset(&t, 0, sizeof t);
    t.modes = ADJ_OFFSET_SINGLESHOT;
    t.offset = microseconds;
    return adjtimex(&t) < 0 ? -1 : 0;
}
long vu_user_hz(void) { return sysconf(_SC_CLK_TCK); }

#include <sched.h>
#include <pthread.h>
#include <unistd.h>

int vu_sched_getcpu(void) { return sched_getcpu(); }

int vu_pin_to_cpu(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

int vu_unpin(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    long n = sysconf(_SC_NPROCESSORS_CONF);
    for (long i = 0; i < n && i < CPU_SETSIZE; i++) CPU_SET(i, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

int vu_cpu_count(void) { return (int)sysconf(_SC_NPROCESSORS_ONLN); }
