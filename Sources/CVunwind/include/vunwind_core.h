// ptrace requests a core writer needs (variadic ptrace(2) again): the FPU and XSAVE state of
// a stopped thread.
#pragma once
#include <sys/types.h>
#include <stddef.h>

/// PTRACE_GETFPREGS: the 512-byte user_fpregs_struct (an FXSAVE area).
long vu_ptrace_getfpregs(pid_t pid, void *buffer512);
/// PTRACE_GETREGSET for `type` (NT_X86_XSTATE = 0x202): fills up to *size bytes and sets
/// *size to what the kernel wrote.
long vu_ptrace_getregset(pid_t pid, unsigned type, void *buffer, size_t *size);

#include <spawn.h>
/// pipe2(fds, O_CLOEXEC) (GNU): a pipe no spawned child inherits unless it is dup2ed.
int vu_pipe_cloexec(int fds[2]);
/// posix_spawn_file_actions_addchdir_np (glibc 2.29, GNU): the child's working directory.
int vu_spawn_file_actions_addchdir(posix_spawn_file_actions_t *actions, const char *path);
