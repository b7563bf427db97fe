// UnwindBenchmark (`vunwind bench unwind`): the time of one 16-frame backtrace that
// crosses the page, from the page entry's first instruction outward, per unwinder,
// medians of interleaved rounds:
//   in process  libgcc's _Unwind_Backtrace and libunwind's unw_step, from the SIGTRAP
//               handler at that instruction (CVunwind/bench_unwind.c); our DwarfUnwinder
//               over the registers and stack the handler saved (it is Swift: not for a
//               signal handler). Ratio: ours / libgcc.
//   remote      a helper (vunwind-walk-subject --depth) stopped there under ptrace: our
//               DwarfUnwinder over ProcessMemoryReader, libunwind-ptrace and libdwfl, the
//               walkers of `vunwind walk`. Ratio: ours / libunwind-ptrace.

import Bytes
import CVunwind
import DwarfCFI
import StackWalk
import Unwind
import Vsyscall
#if canImport(Glibc)
import Glibc
#endif

struct UnwindBenchmarkResult: Codable {
    var rounds: Int
    var rows: [TimedRow]
}

enum UnwindBenchmark {
    static let frames = 16
    static let walks = 1000
    static let remoteWalks = 100

    static func run(rounds: Int) throws -> UnwindBenchmarkResult {
        var rows = try inProcess(rounds: rounds)
        rows += try remote(rounds: rounds)
        return UnwindBenchmarkResult(rounds: rounds, rows: rows)
    }

    /// TSC cycles per nanosecond, over 20 ms.
    static func cyclesPerNanosecond() -> Double {
        let n0 = Measurement.now(), c0 = vu_rdtscp(nil)
        usleep(20_000)
        let n1 = Measurement.now(), c1 = vu_rdtscp(nil)
        return Double(c1 &- c0) / Double(max(n1 - n0, 1))
    }

    static func inProcess(rounds: Int) throws -> [TimedRow] {
        let page = try Vsyscall.install(registrars: [.libgcc, .libunwind])
        defer { try? page.uninstall() }
        let rate = cyclesPerNanosecond()
        let result = UnsafeMutablePointer<vu_bench_unwind_result>.allocate(capacity: 1)
        defer { result.deallocate() }
        let tv = UnsafeMutablePointer<timeval>.allocate(capacity: 1)
        defer { tv.deallocate() }
        let entry = UnsafeRawPointer(bitPattern: UInt(page.image.entry(.gettimeofday).address))!
        let args = [Int(bitPattern: tv), 0, 0]
        let modules = try ModuleMap(pid: getpid(), memory: ProcessMemoryReader.current())
        var samples: [[Double]] = [[], [], []]
        var ourFrames = 0
        // The nest: tf_call and depth + 1 nested frames and vu_bench_unwind under the entry.
        let depth = frames - 4
        for round in 0...rounds {
            let rc = vu_bench_unwind(entry, args, Int32(depth), UInt64(walks), Int32(frames), result)
            guard rc == 0 else { throw VsyscallError.system("the in-process unwind benchmark (\(rc))", EINVAL) }
            let r = result.pointee
            var registers = FrameRegisters()
            withUnsafeBytes(of: r.regs) { raw in
                for (i, v) in raw.bindMemory(to: UInt64.self).enumerated() { registers[UInt16(i)] = v }
            }
            // Swift does not import the 64 KiB member: it follows 23 words (the header's layout).
            let stack = Array(UnsafeRawBufferPointer(start: UnsafeRawPointer(result) + 23 * 8, count: Int(min(r.stack_length, 65536))))
            let memory = SnapshotMemoryReader(address: r.stack_base, bytes: stack)
            let t0 = Measurement.now()
            for _ in 0..<walks {
                var unwinder = DwarfUnwinder(registers: registers, memory: memory, modules: modules, maxFrames: frames)
                ourFrames = unwinder.walk().frames.count
            }
            let ours = Double(Measurement.now() - t0) / Double(walks)
            guard round > 0 else { continue }  // the first round warms caches and lazy binding
            samples[0].append(Double(r.libgcc_cycles) / rate / Double(walks))
            samples[1].append(Double(r.libunwind_cycles) / rate / Double(walks))
            samples[2].append(ours)
        }
        guard ourFrames == frames else { throw VsyscallError.system("our unwinder walked \(ourFrames) of \(frames) frames", EINVAL) }
        let names = ["in process: libgcc _Unwind_Backtrace", "in process: libunwind unw_step",
                     "in process: vunwind DwarfUnwinder (a copy of the stack)"]
        return (0..<3).map { i in
            row(names[i], frames: frames, samples[i], anchor: i == 2 ? (names[0], samples[0]) : nil)
        }
    }

    static func remote(rounds: Int) throws -> [TimedRow] {
        let walkers = StackWalkTester.remoteWalkers().filter(\.readsCFI)
        // Under the entry: vu_walk_call, the nest, and main's callers, whose number depends
        // on the build: a probe counts the chain and the depth is set to make it 16.
        let subject = WalkSubject(.page(entry: .gettimeofday, path: .fast))
        let helper = StackWalkTester.defaultHelper()
        let probe = try WalkTiming.time(walkers, helper: helper, subject: subject, depth: 1, walks: 1, rounds: 0)
        let depth = 1 + frames - (probe.map(\.frames).min() ?? frames)
        guard depth >= 1 else { throw VsyscallError.system("the helper's stack is deeper than \(frames) frames", EINVAL) }
        let timings = try WalkTiming.time(walkers, helper: helper, subject: subject, depth: depth, walks: remoteWalks, rounds: rounds)
        let anchor = timings.first { $0.walker == "libunwind-ptrace" }
        return timings.map { t in
            row("remote: \(t.walker)", frames: t.frames, t.samples,
                anchor: t.walker == "vunwind" ? anchor.map { ("remote: \($0.walker)", $0.samples) } : nil)
        }
    }

    static func median(_ s: [Double]) -> Double { s.sorted()[s.count / 2] }

    static func row(_ name: String, frames: Int, _ s: [Double], anchor: (String, [Double])?) -> TimedRow {
        .init(name: name, frames: frames, medianNanoseconds: median(s), minimumNanoseconds: s.min() ?? 0,
              maximumNanoseconds: s.max() ?? 0, anchor: anchor?.0, ratio: anchor.map { median(s) / max(median($0.1), 1e-9) })
    }

    static func render(_ r: UnwindBenchmarkResult) -> String {
        var out = "unwind: one backtrace from the page entry's first instruction, medians of \(r.rounds) interleaved rounds (min, max)\n"
        for x in r.rows {
            out += x.render(width: 58, detail: "\(x.frames ?? 0) frames  ")
        }
        return out
    }
}
