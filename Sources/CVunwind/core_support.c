#define _GNU_SOURCE
// What the core writer and its tests need from libc that Swift cannot call: variadic ptrace
// requests and a GNU posix_spawn extension (see vunwind_core.h).
#include "vunwind_core.h"
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <fcntl.h>
#include <unistd.h>

long vu_ptrace_getfpregs(pid_t pid, void *buffer512) { return ptrace(PTRACE_GETFPREGS, pid, NULL, buffer512); }

long vu_ptrace_getregset(pid_t pid, unsigned type, void *buffer, size_t *size) {
    struct iovec v = { .iov_base = buffer, .iov_len = *size };
    long r = ptrace(PTRACE_GETREGSET, pid, (void *)(unsigned long)type, &v);
    if (r == 0) *size = v.iov_len;
    return r;
}

#include <spawn.h>
int vu_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int vu_spawn_file_actions_addchdir(posix_spawn_file_actions_t *actions, const char *path) {
    return posix_spawn_file_actions_addchdir_np(actions, path);
}
