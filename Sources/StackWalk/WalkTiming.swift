// WalkTiming: how long each walker takes for one walk of one stop, for `vunwind bench
// unwind`. The helper runs its subject under `depth` extra frames, stops at the
// trampoline's int3, takes one step onto the subject's first instruction, and there every
// walker walks the same stack `walks` times per round, in turn, round after round (so
// drift hits them alike). Every walk must reach the trampoline's frame, as the judge
// requires, or the timing is refused: a fast wrong walk is no figure.

import Bytes
import CVunwind
import Unwind
#if canImport(Glibc)
import Glibc
#endif

public enum WalkTiming {
    public struct Timing: Sendable, Codable {
        public var walker: String
        /// Nanoseconds per walk, one sample per round.
        public var samples: [Double]
        /// Frames in the walker's chain.
        public var frames: Int
    }

    public static func time(_ walkers: [any Walker], helper: String, subject: WalkSubject, depth: Int, walks: Int,
                            rounds: Int) throws -> [Timing] {
        let pid = try Spawner.spawn(helper, ["--depth", String(depth)] + subject.helperArguments,
                                    environment: ["SWIFT_BACKTRACE": "enable=no"], quiet: true)
        let process = TracedProcess(pid: pid)
        defer { process.kill() }
        // Bounded: the helper stops once, at the int3, unless it fails first.
        for _ in 0..<16 {
            guard case let .stopped(signal) = try process.wait() else { throw WalkError("\(subject.name): the helper ended before the call") }
            if signal == SIGTRAP { break }
            try process.cont(signal: signal)
        }
        let memory = ProcessMemoryReader(pid: pid)
        let atCall = try process.registers()
        let truth = try GroundTruth(atCall: atCall, instruction: (try? memory.fetchBytes(from: atCall.rip, count: 3)) ?? [])
        try process.singleStep(signal: 0)
        guard case .stopped(signal: SIGTRAP) = try process.wait() else { throw WalkError("\(subject.name): the step into the call failed") }
        let registers = try process.registers()
        let modules = try ModuleMap(pid: pid, memory: memory)
        var reference = DwarfUnwinder(registers: registers.frameRegisters, memory: CachingMemoryReader(memory), modules: modules,
                                      maxFrames: 128)
        let stop = WalkStop(pid: pid, registers: registers, reference: reference.walk(), modules: modules, truth: truth)
        for w in walkers { try w.attach(pid: pid, modules: modules) }
        defer { for w in walkers { w.detach() } }
        var timings = try walkers.map { w -> Timing in
            let frames = try w.walk(stop)
            // Under extra frames the trampoline's caller is the nest, not main.
            let found = Judge.mismatches(frames, truth: truth, modules: modules).filter { depth == 0 || $0.field != "main" }
            guard found.isEmpty else { throw WalkError("\(w.name) walks this stop wrong: \(found[0].field): \(found[0].actual)") }
            return Timing(walker: w.name, samples: [], frames: frames.count)
        }
        for _ in 0..<rounds {
            for (i, w) in walkers.enumerated() {
                let t0 = monotonicSeconds()
                for _ in 0..<walks { _ = try w.walk(stop) }
                timings[i].samples.append((monotonicSeconds() - t0) * 1e9 / Double(walks))
            }
        }
        return timings
    }
}
