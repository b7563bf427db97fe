// fixture-vsyscall: a helper process for tests that must not run in the test process
// (faults that kill, SIGSEGV-mode probes). Modes are added by the tests that need them.

#if canImport(Glibc)
import Glibc
#endif

func fail(_ message: String) -> Never {
    let line = Array((message + "\n").utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(64)
}

let arguments = CommandLine.arguments
if arguments.count < 2 { fail("usage: fixture-vsyscall MODE ...") }
fail("fixture-vsyscall: unknown mode \(arguments[1])")
