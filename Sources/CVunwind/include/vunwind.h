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

// The vvar two-counter lock, writer side (seed page 12): sequence1 is bumped before the
// data, sequence2 after, with release ordering so no data store moves outside the pair.
// `vvar` points at the writer's own (writable) mapping of the data page.
void vu_vvar_write_begin(void *vvar);
void vu_vvar_write_end(void *vvar);
/// A data store inside the write section (relaxed atomic: never torn).
void vu_vvar_store64(void *vvar, unsigned offset, uint64_t value);
void vu_vvar_store32(void *vvar, unsigned offset, uint32_t value);
/// The TSC and TSC_AUX, ordered after earlier loads (rdtscp).
uint64_t vu_rdtscp(uint32_t *aux);
/// CPUID leaf/subleaf -> eax, ebx, ecx, edx.
void vu_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4]);

// EFAULT fixups (seed page 11). A SIGSEGV/SIGBUS handler that, when the faulting
// instruction is a listed store, resumes at its landing pad (which returns -EFAULT);
// any other fault goes to the handler that was installed before, or to the default action
// (so real crashes still dump core). The table is copied; the handler only reads it.
int vu_fixups_install(const uint64_t *store_landing_pairs, unsigned count);
int vu_fixups_uninstall(void);
/// Puts the handler back in front of one installed after it (which then gets the signals
/// that are not fixups). 0, or -1 with errno (ENOENT: not installed).
int vu_fixups_reassert(void);
/// Faults the handler turned into -EFAULT so far.
uint64_t vu_fixups_taken(void);

// fork: a child of a process with a page installed gets a private vvar in syscall mode
// (fork.c). vu_fork_protect registers the atfork handler (once per process) and names the
// readers' vvar; vu_fork_unprotect (at uninstall) turns it off. -1 if pthread_atfork fails.
int vu_fork_protect(uint64_t vvar_address);
void vu_fork_unprotect(void);

// memfd and sealing, which Swift's Glibc module does not export.
int vu_memfd_create(const char *name);
/// A memfd (sealing allowed) holding `size` bytes of `data`: the vsyscall image before it
/// is sealed and mapped, or an in-memory ELF image for a library that wants a file
/// descriptor. -1 with errno on failure.
int vu_memfd_with_bytes(const char *name, const void *data, unsigned long size);
int vu_add_seals(int fd, int seals);
int vu_get_seals(int fd);
/// mseal(2) (Linux 6.10+): the range can no longer be unmapped, remapped or mprotect'ed
/// for the process's life. 0, or -1 with errno (ENOSYS before 6.10).
int vu_mseal(uint64_t address, uint64_t length);

/// The kernel's NTP rate settings (adjtimex): `tick` in microseconds per USER_HZ tick and
/// `frequency` in ppm << 16. Reading needs no privilege. 0, or -1 with errno.
int vu_kernel_clock_get(long *tick, long *frequency);
/// Sets both (CAP_SYS_TIME). 0, or -1 with errno (EPERM, EINVAL out of range).
int vu_kernel_clock_set(long tick, long frequency);
/// Slews the clock by `microseconds` (adjtime's ADJ_OFFSET_SINGLESHOT: the kernel runs
/// 500 ppm fast or slow until it is done; CAP_SYS_TIME). 0, or -1 with errno.
int vu_kernel_clock_slew(long microseconds);
/// USER_HZ: the ticks per second `tick` is counted in.
long vu_user_hz(void);
enum {
    VU_F_SEAL_SEAL = 0x0001, VU_F_SEAL_SHRINK = 0x0002, VU_F_SEAL_GROW = 0x0004, VU_F_SEAL_WRITE = 0x0008,
    VU_MAP_FIXED_NOREPLACE = 0x100000,
};

/// Torture: one write section that sets every torture word to a value derived from
/// `generation` (word i = generation * (2i + 1)), so a reader can tell a torn copy.
void vu_vvar_write_torture(void *vvar, uint64_t generation);

// Scheduling helpers (GNU), for tests that pin a thread to each CPU.
int vu_sched_getcpu(void);
/// Pins the calling thread to `cpu` (pthread_setaffinity_np); 0 on success.
int vu_pin_to_cpu(int cpu);
/// Allows the calling thread every CPU again.
int vu_unpin(void);
int vu_cpu_count(void);
