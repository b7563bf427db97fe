// A raw x86-64 system call through the `syscall` instruction: never glibc's wrappers,
// which may answer from the vDSO (gettimeofday, time, getcpu, clock_gettime) and so
// behave differently from the kernel's own entry for bad pointers.
#pragma once

/// The kernel's return value as is: the result, or -errno (errno is not touched).
long vu_raw_syscall6(long nr, long a1, long a2, long a3, long a4, long a5, long a6);
