// What libvunwind-vsyscall.so does when it is loaded (see constructor.c).
#pragma once

/// The signals the constructor gave back to SIG_DFL (a bit per signal number), for tests.
unsigned long vu_library_signals_restored(void);
