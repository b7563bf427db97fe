/* vunwind vsyscall page: the C interface.
 *
 * Install the page with vsyscall_install() (from libvunwind-vsyscall.so), then call the
 * entries directly: they are absolute symbols (seed page 9: "prelinked like a weak
 * symbol") defined by a linker script that `vunwind emit --linker-script FILE` generates
 * for the page's address (vsyscall.ld next to this header is the one for the default
 * address, 0x550000000000).
 *
 *   cc -no-pie -fno-pie -fno-plt -Wa,-mrelax-relocations=no -I include prog.c \
 *      include/vunwind/vsyscall.ld -L .build/release -lvunwind-vsyscall -Wl,-rpath,.build/release
 *
 * Calls go through the GOT (-fno-plt): the entries are further than a direct call
 * reaches. -mrelax-relocations=no stops the linker from turning those GOT loads back
 * into direct calls. With GNU ld 2.40 the program must not be a PIE: in a PIE it gives
 * the GOT slot of an absolute symbol an R_X86_64_RELATIVE relocation, so the load bias
 * is added to it. lld keeps absolute symbols absolute: with -fuse-ld=lld a PIE works
 * (cc -fno-plt -fuse-ld=lld ...).
 *
 * The entries use the raw-syscall ABI: they return 0 or -errno (vtime returns the seconds
 * or -errno); they never set errno. A bad user pointer gives -EFAULT in the default fault
 * mode, SIGSEGV in VSYSCALL_FAULT_SIGSEGV mode.
 */
/* Side effects, all of them (SideEffectTests checks this list):
 *   Loading the library changes no signal disposition: the Swift runtime it is written in
 *   installs a crash backtracer on SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE and
 *   SIGSEGV at load, and the library gives those back to SIG_DFL before main, unless the
 *   environment sets SWIFT_BACKTRACE (then the backtracer was asked for and stays).
 *   vsyscall_install():
 *     - maps the page at the address (0x550000000000: image, text, data page) and a
 *       writable view of the data page for the timekeeper; never writable and executable;
 *     - starts one thread, the timekeeper, with every signal blocked (no handler of the
 *       program runs on it; process-directed signals go to the program's threads);
 *     - in EFAULT mode installs a SIGSEGV and SIGBUS handler (see Signals below);
 *     - registers the page with the unwinders in the mask: libgcc (__register_frame),
 *       nongnu libunwind (dlopen of libunwind.so.8, RTLD_LOCAL, which stays loaded after
 *       uninstall, with liblzma), gdb (__jit_debug_descriptor), perf (writes
 *       /tmp/perf-PID.map, see the README); no file descriptor stays open.
 *       The map file's lines stay after uninstall and exit, as other JITs' do, because
 *       perf report reads them after the process is gone; VUNWIND_PERF_MAP=remove in
 *       the environment makes uninstall take them back (and remove the file when it
 *       holds nothing else).
 *     - lists the page in dl_iterate_phdr (after the loaded objects, under the image's
 *       soname linux-vunwind.so.1, dlpi_adds/dlpi_subs counting installs and uninstalls)
 *       and answers _dl_find_object for its pcs: the library defines both, and they bind
 *       for every object that links it (it precedes libc.so.6); other calls go to glibc's.
 *       VUNWIND_VSYSCALL_LOOKUP=off in the environment leaves the page out of both;
 *     - registers (once per process) a pthread_atfork child handler: a child of a process
 *       with the page installed gets a private copy of the data page in syscall mode, so
 *       its calls take the real syscall (correct, never waiting on a writer it does not
 *       have); its uninstall is its own and leaves the parent's page and perf map alone.
 *   vsyscall_uninstall() undoes all of that (the two lookups go on answering for glibc)
 *   but the loaded libunwind.so.8, the atfork
 *   handler (which does nothing while no page is installed) and the perf map's lines.
 */
#ifndef VUNWIND_VSYSCALL_H
#define VUNWIND_VSYSCALL_H

#include <sys/time.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VSYSCALL_DEFAULT_ADDRESS 0x550000000000UL

enum vsyscall_fault_mode {
    VSYSCALL_FAULT_EFAULT = 0,  /* bad user pointers return -EFAULT (fixup table) */
    VSYSCALL_FAULT_SIGSEGV = 1, /* bad user pointers raise SIGSEGV (POSIX allows it) */
};

/* The mapping kind comes from the environment, so a program needs no rebuild to change it:
   VUNWIND_VSYSCALL_MAPPING=shared-anonymous (the default) | memfd | memfd-private |
   private-anonymous. Only the private kinds take gdb's software breakpoints (`break
   vgettimeofday`); the README's table says what each kind shows to gdb, eu-stack and perf. */
/* Maps the page at `address` (0: the default), starts its timekeeper (tick_us: update
   period in microseconds, 0: 4000) and, in EFAULT mode, the fixup handler. Returns 0, or
   -1 with a message from vsyscall_error(). */
int vsyscall_install(unsigned long address, int fault_mode, unsigned tick_us);
/* Which unwinders vsyscall_install_with() tells about the page's CFI. */
enum vsyscall_registrar {
    VSYSCALL_REGISTER_LIBGCC = 1,    /* __register_frame (libgcc_s.so.1) */
    VSYSCALL_REGISTER_LIBUNWIND = 2, /* _U_dyn_register (libunwind.so.8) */
    VSYSCALL_REGISTER_GDB = 4,       /* gdb's JIT interface */
    VSYSCALL_REGISTER_PERF = 8,      /* /tmp/perf-PID.map */
    VSYSCALL_REGISTER_ALL = 15,
};

/* vsyscall_install registering with a subset of the unwinders (it uses ALL). */
int vsyscall_install_with(unsigned long address, int fault_mode, unsigned tick_us, unsigned registrars);
/* vsyscall_install_with, then mseal(2) (Linux 6.10+) over the image and the readers' vvar:
   for the rest of the process's life no mprotect, munmap or mremap of them succeeds, so
   the code can never be made writable or moved. The trade-off: vsyscall_uninstall fails
   ("... is sealed"), and a forked child keeps reading the parent's vvar instead of a
   private one (right while the parent lives; if the parent dies mid-update the child's
   readers take the syscall after their bounded retries). Before 6.10: -1, "mseal (Linux
   6.10 or later): Function not implemented", and nothing is installed. */
int vsyscall_install_sealed(unsigned long address, int fault_mode, unsigned tick_us, unsigned registrars);
/* Signals. In EFAULT mode install puts a SIGSEGV and SIGBUS handler in front of whatever
   was there; it turns faults at the page's user-pointer stores into -EFAULT and hands
   every other signal to the previous disposition exactly as the kernel would have: its
   handler with its sa_mask, SA_NODEFER, SA_SIGINFO and SA_RESETHAND honoured; or the
   default action (a fault re-executes and the kernel dumps core with the faulting
   registers; a signal sent with kill or raise is sent again and taken by default). If
   SIGSEGV is blocked in a thread, a bad pointer there kills the process (the kernel forces
   synchronous faults through). A handler installed after install takes EFAULT away (bad
   pointers reach it as SIGSEGV) until vsyscall_reassert_fault_handler() puts ours back in
   front of it; it then receives everything that is not a fixup. SIGSEGV mode installs
   nothing. Returns 0, or -1 (see vsyscall_error()). */
int vsyscall_reassert_fault_handler(void);
/* For tests: the signals (a bit per number) the library gave back to SIG_DFL at load. */
unsigned long vsyscall_library_signals_restored(void);
/* Stops the timekeeper and unmaps the page. Returns 0, or -1 (see vsyscall_error()). */
int vsyscall_uninstall(void);
/* The calling thread's last error, one line; the string stays valid until the next failure
   on the same thread (each thread has its own). install and uninstall may be called from
   any thread: they are serialized. */
const char *vsyscall_error(void);

/* The entries: absolute symbols the linker script defines. Their symbol names end in
   _is_defined_by_vsyscall_ld, so a program linked without the script fails to link with
   "undefined reference to `vgettimeofday_is_defined_by_vsyscall_ld'" instead of crashing at
   its first call. Define VSYSCALL_WEAK_ENTRIES to get weak ones instead (each is then NULL
   unless the script is linked: test before calling). */
#ifdef VSYSCALL_WEAK_ENTRIES
#define VSYSCALL_ENTRY(name) __asm__(#name) __attribute__((weak))
#else
#define VSYSCALL_ENTRY(name) __asm__(#name "_is_defined_by_vsyscall_ld")
#endif
long vgettimeofday(struct timeval *tv, struct timezone *tz) VSYSCALL_ENTRY(vgettimeofday);
long vtime(time_t *t) VSYSCALL_ENTRY(vtime);
long vgetcpu(unsigned *cpu, unsigned *node, void *cache) VSYSCALL_ENTRY(vgetcpu);
long vclock_gettime(clockid_t clock, struct timespec *ts) VSYSCALL_ENTRY(vclock_gettime);

#ifdef __cplusplus
}
#endif

#endif
