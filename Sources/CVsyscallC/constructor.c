// libvunwind-vsyscall.so's load-time hook. The library is written in Swift, and the Swift
// runtime it brings installs its crash backtracer's handlers on SIGQUIT, SIGILL, SIGTRAP,
// SIGABRT, SIGBUS, SIGFPE and SIGSEGV when it is loaded: a C program that links the
// library would have its signal dispositions changed before main, by a library it only
// wanted a clock from. This constructor runs after the runtime's (a library is initialized
// after the libraries it needs) and puts SIG_DFL back for every one of those signals whose
// handler lies in the Swift runtime, unless the program's environment asked for the
// backtracer (SWIFT_BACKTRACE set: then the user chose). It is linked into this library
// only, never into Swift programs, whose runtime's choice it leaves alone.
#define _GNU_SOURCE
#include "vunwind_library.h"
#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static unsigned long restored;

unsigned long vu_library_signals_restored(void) { return restored; }

static int in_swift_runtime(void *address) {
    Dl_info info;
    if (!address || !dladdr(address, &info) || !info.dli_fname) return 0;
    const char *name = strrchr(info.dli_fname, '/');
    name = name ? name + 1 : info.dli_fname;
    return strncmp(name, "libswiftCore.so", 15) == 0 || strncmp(name, "libswiftRuntime", 15) == 0;
}

__attribute__((constructor)) static void vu_library_loaded(void) {
    if (getenv("SWIFT_BACKTRACE")) return;
    int signals[] = {SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV};
    for (unsigned i = 0; i < sizeof signals / sizeof signals[0]; i++) {
        struct sigaction current;
        if (sigaction(signals[i], NULL, &current) != 0) continue;
        void *handler = (current.sa_flags & SA_SIGINFO) ? (void *)current.sa_sigaction : (void *)current.sa_handler;
        if (handler == (void *)SIG_DFL || handler == (void *)SIG_IGN || !in_swift_runtime(handler)) continue;
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        if (sigaction(signals[i], &dfl, NULL) == 0) restored |= 1ul << signals[i];
    }
}
