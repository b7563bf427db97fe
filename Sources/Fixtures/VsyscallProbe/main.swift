// fixture-vsyscall: a helper process for tests that must not run in the test process
// (faults that kill, SIGSEGV-mode probes). Modes are added by the tests that need them.

#if canImport(Glibc)
import Glibc
#endif

let arguments = CommandLine.arguments
if arguments.count < 2 {
    fputs("usage: fixture-vsyscall MODE ...\n", stderr)
    exit(64)
}
fputs("fixture-vsyscall: unknown mode \(arguments[1])\n", stderr)
exit(64)
