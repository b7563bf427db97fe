// `vunwind bench`: benchmarks, each beside its anchor in the same run, reported as ratios
// (cfi: anchor / ours, above 1 means we are faster; vsyscall: ours / vDSO in cycles per
// call, at most 1 means we cost no more). No timed assertion lives in the tests; this
// command is where speed is measured.

import ArgumentParser
import FoundationEssentials
import Vsyscall
#if canImport(Glibc)
import Glibc
#endif

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure vunwind against its anchors in the same run.",
        discussion: """
            cfi: parse and evaluate every FDE of a file (default libc.so.6) against readelf and libdw.
            vsyscall: TSC cycles per call of our vsyscall entries beside the kernel's vDSO, the getpid and \
            gettimeofday syscalls, the legacy [vsyscall] page and a bare rdtscp loop (ratio = ours / vDSO).
            core: vunwind core on a core of --core-mib MiB and --core-threads threads beside eu-stack --core and \
            gdb -batch -ex 'thread apply all bt', with peak RSS (ratio = ours / anchor).
            walk: the default vunwind walk matrix beside single-stepping the same calls with no walker \
            (ratio = matrix / stepping), with each walker's stops per second.
            unwind: one 16-frame backtrace from the page entry's first instruction: libgcc, libunwind and ours \
            in process, ours, libunwind-ptrace and libdwfl on a stopped helper (ratio = ours / libgcc, ours / \
            libunwind-ptrace).
            registration: install and uninstall beside bare mapping; register and deregister with each \
            registrar; a libgcc and a libunwind lookup of a pc in the page alone and after 1,000 other \
            registrations (ratio = after / alone).
            clock: the page's MONOTONIC and REALTIME error against the kernel's while adjtimex moves the \
            kernel's tick (+-1 %, +-10 %) and frequency (+-500 ppm) for --seconds each (CAP_SYS_TIME; the \
            kernel's setting is put back).
            """)

    static let benchmarks = ["cfi", "vsyscall", "unwind", "registration", "core", "walk", "clock"]

    @Argument(help: "Which benchmarks: cfi, vsyscall, unwind, registration, core, walk, clock (default: all).")
    var which: [String] = []

    @Option(help: "The file for the CFI benchmark.")
    var file: String = "/lib/x86_64-linux-gnu/libc.so.6"

    @Option(help: "Interleaved rounds per benchmark (default: cfi 15, vsyscall 21, unwind 11, registration 11, core 3, walk 3).")
    var rounds: Int?

    @Option(help: "vsyscall: calls per batch (one batch per candidate per round).")
    var calls: Int = 100_000

    @Option(help: "vsyscall: the CPU to pin the measuring thread to (default: the current one).")
    var cpu: Int?

    @Option(help: "core: MiB of memory the benchmark's core holds.")
    var coreMib: Int = 1024

    @Option(help: "core: threads in the benchmark's core.")
    var coreThreads: Int = 64

    @Option(help: "clock: seconds per adjtimex setting.")
    var seconds: Double = 1

    @Option(help: ArgumentHelp("Also write a bar chart (SVG) of every ratio the benchmarks printed.", valueName: "FILE"))
    var svg: String?

    @Flag(help: "Print JSON instead of text (an object keyed by benchmark when more than one runs).")
    var json = false

    func validate() throws {
        for w in which where !Self.benchmarks.contains(w) { throw ValidationError("unknown benchmark \(w)") }
        if let rounds, rounds <= 0 { throw ValidationError("--rounds must be positive") }
        guard calls > 0 else { throw ValidationError("--calls must be positive") }
        if let cpu, cpu < 0 { throw ValidationError("--cpu must not be negative") }
        guard seconds > ClockDiscipline.transientSeconds, seconds <= 600 else {
            throw ValidationError("--seconds must be above \(ClockDiscipline.transientSeconds) and at most 600")
        }
    }

    func run() throws {
        let selected = which.isEmpty ? Self.benchmarks : Self.benchmarks.filter { which.contains($0) }
        let vunwind = selfExecutablePath()
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        var documents: [(String, String)] = []
        var bars: [BenchBar] = []
        func emit<T: Encodable>(_ name: String, _ value: T, text: (T) -> String) throws {
            if json {
                documents.append((name, String(decoding: try e.encode(value), as: UTF8.self)))
            } else {
                print(text(value), terminator: "")
            }
        }
        for name in selected {
            switch name {
            case "cfi":
                let r = try InputFailure.guarding(file) {
                    try CFIBenchmark.run(file: file, vunwind: vunwind, rounds: rounds ?? 15)
                }
                try emit(name, r, text: CFIBenchmark.render)
                bars += BenchChart.bars(cfi: r)
            case "vsyscall":
                let r = try VsyscallBenchmark.run(rounds: rounds ?? 21, calls: calls, cpu: cpu)
                try emit(name, r, text: VsyscallBenchmark.render)
                bars += BenchChart.bars(vsyscall: r)
            case "core":
                let r = try CoreBenchmark.run(vunwind: vunwind, mebibytes: coreMib, threads: coreThreads, rounds: rounds ?? 3)
                try emit(name, r, text: CoreBenchmark.render)
                bars += BenchChart.bars(core: r)
            case "walk":
                let r = try WalkBenchmark.run(rounds: rounds ?? 3)
                try emit(name, r, text: WalkBenchmark.render)
                bars += BenchChart.bars(walk: r)
            case "unwind":
                let r = try UnwindBenchmark.run(rounds: rounds ?? 11)
                try emit(name, r, text: UnwindBenchmark.render)
                bars += BenchChart.bars(unwind: r)
            case "registration":
                let r = try RegistrationBenchmark.run(rounds: rounds ?? 11)
                try emit(name, r, text: RegistrationBenchmark.render)
                bars += BenchChart.bars(registration: r)
            case "clock":
                let r = try ClockBenchmark.run(seconds: seconds)
                try emit(name, r, text: ClockBenchmark.render)
            default:
                break
            }
        }
        if let svg {
            let text = BenchChart.svg(bars, title: "vunwind bench: \(selected.joined(separator: ", "))")
            do { try writeFile(svg, Array(text.utf8)) } catch {
                InputFailure.report("\(svg): \(error)")
                throw InputFailure.exitCode
            }
        }
        guard json else { return }
        if documents.count == 1 {
            print(documents[0].1)
        } else {
            // Each document is already sorted, pretty JSON: nest them under their names.
            let body = documents.map { name, doc in
                "  \"\(name)\" : " + doc.split(separator: "\n", omittingEmptySubsequences: false)
                    .joined(separator: "\n  ")
            }
            print("{\n" + body.joined(separator: ",\n") + "\n}")
        }
    }
}

/// This executable's path (/proc/self/exe), so benchmarks can spawn it as a process.
func selfExecutablePath() -> String {
    var buf = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buf, buf.count - 1)
    guard n > 0 else { return CommandLine.arguments[0] }
    return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
