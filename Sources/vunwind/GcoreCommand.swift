// `vunwind gcore PID [-o FILE]`: a core of a live process, written by vunwind itself, so
// nothing depends on the machine's core_pattern. The process is stopped while it is
// written and continues afterwards.

import ArgumentParser
import CoreDump

struct GcoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gcore",
        abstract: "Write a core of a running process (all threads, the notes and memory a debugger needs).",
        discussion: "Exit status: 0 written, 2 with one line when the process cannot be traced or the file written.")

    @Argument(help: "The process id.")
    var pid: Int32

    @Option(name: .shortAndLong, help: "The core file to write (default: core.PID).")
    var output: String?

    func run() throws {
        let path = output ?? "core.\(pid)"
        let summary = try InputFailure.guarding("gcore \(pid)") { try CoreWriter.write(pid: pid, to: path) }
        print("wrote \(path): \(summary.threads) thread(s), \(summary.segments) segments, \(summary.dumpedBytes) bytes of memory")
    }
}
