// vu_raw_syscall6: the `syscall` instruction with the x86-64 Linux convention
// (rax = number; rdi, rsi, rdx, r10, r8, r9 = arguments; rcx and r11 clobbered).
#include "vunwind_syscall.h"

long vu_raw_syscall6(long nr, long a1, long a2, long a3, long a4, long a5, long a6) {
#if defined(__x86_64__)
    register long r10 __asm__("r10") = a4;
    register long r8 __asm__("r8") = a5;
    register long r9 __asm__("r9") = a6;
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
#else
#error "vu_raw_syscall6 is x86-64 only"
#endif
}
