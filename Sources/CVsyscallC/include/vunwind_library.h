// What libvunwind-vsyscall.so does when it is loaded (see constructor.c).
#pragma once

/// The signals the constructor gave back to SIG_DFL (a bit per signal number), for tests.
unsigned long vu_library_signals_restored(void);

/// Lists the installed page's image at `base` under `soname` in dl_iterate_phdr (phdr.c);
/// 0, or -1 if `base` holds no ELF header with at most 16 program headers.
int vu_phdr_publish(unsigned long base, const char *soname);
/// Takes the page out of dl_iterate_phdr's list; 1 if it was listed.
int vu_phdr_withdraw(void);
