// `vunwind core CORE...`: for each thread of each core, where it stopped; for a thread
// inside a virtual syscall (a vunwind page, the kernel's vDSO, the legacy page) the
// synthesized return; the backtrace, cross-checked by libdwfl. With --rewrite, a copy of
// the core in which those calls have returned.

import ArgumentParser
import CoreDump
import Unwind
import FoundationEssentials

struct CoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "core",
        abstract: "Analyze cores: return threads from virtual syscalls, backtrace every thread.",
        discussion: """
            Exit status: 0 when every core was analyzed (whatever it shows), 2 with one line naming the \
            file and byte offset when a core cannot be read, 64 for usage errors. --json prints an array \
            with one object per core (the stable format: see the README).
            """)

    @Argument(help: "Core files (from the kernel, gdb's gcore or vunwind gcore).")
    var cores: [String]

    @Option(help: "The executable, for a core from another machine or a moved program.")
    var exe: String?

    @Option(help: "Read the core's files under this directory instead of /.")
    var sysroot: String?

    @Option(help: "Write a copy of the core in which the threads inside a virtual syscall have returned.")
    var rewrite: String?

    @Flag(help: "Do not cross-check the backtraces with libdwfl.")
    var noCrossCheck = false

    @Flag(help: "Print the reports as JSON.")
    var json = false

    func validate() throws {
        guard !cores.isEmpty else { throw ValidationError("give at least one core") }
        if rewrite != nil && cores.count != 1 { throw ValidationError("--rewrite takes exactly one core") }
    }

    func run() throws {
        let options = CoreAnalyzer.Options(executable: exe, sysroot: sysroot, crossCheck: !noCrossCheck,
                                           cache: ModuleImageCache())
        var reports: [CoreReport] = []
        var text = ""
        for path in cores {
            let analysis = try InputFailure.guarding(path) { try CoreAnalyzer.analyze(path: path, options: options) }
            reports.append(analysis.report)
            text += CoreReportText.render(analysis.report)
            if let out = rewrite {
                let returned = analysis.core.threads.compactMap { t in analysis.returns[t.tid].map { (thread: t, result: $0) } }
                let summary = try InputFailure.guarding(out) {
                    try CoreRewriter.rewrite(input: path, core: analysis.core, output: out, returns: returned)
                }
                text += "\nrewrote \(out): \(summary.threads) thread(s) returned, \(summary.outputBytes) output bytes stored"
                    + (summary.outputsLeftOut > 0 ? ", \(summary.outputsLeftOut) output(s) not in the core" : "") + "\n"
            }
        }
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            writeStandardOutput(Array(try e.encode(reports)) + [0x0a])
        } else {
            writeStandardOutput(Array(text.utf8))
        }
    }
}
