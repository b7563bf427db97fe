// StackWalkTester: spawns the helper (vunwind-walk-subject) for each subject, waits for
// the trampoline's int3, reads the ground truth, then single-steps the call to its return.
// At every instruction in between (callees, PLT stubs, the lazy resolver, signal handlers
// and __restore_rt included) every walker is asked for the chain and judged.
//
// The helper is traced (PTRACE_TRACEME) by the thread that spawned it: run a tester on one
// thread. Signals the call raises (the SIGSEGV of a bad pointer) are handed on with the
// next step, so the handler's instructions are stops too.

import Bytes
import CVunwind
import DwarfCFI
import ELF
import Unwind
import Vsyscall
#if canImport(Glibc)
import Glibc
#endif

public final class StackWalkTester {
    /// The helper executable (`vunwind-walk-subject`).
    public let helper: String
    public let walkers: [any Walker]
    /// A bound on the instructions one call may execute.
    public var maxStops = 200_000
    /// A bound on one instruction (a blocking system call never finishes under stepping).
    public var stepTimeout = 10.0
    /// Failures kept per cell (the cell's count is exact).
    public var failureLimit = 20
    /// Called after each stop with (subject, stops so far): the CLI's progress line.
    public var progress: ((WalkSubject, Int) -> Void)?
    /// Called at each judged stop before the walkers (what a test wants to see of it).
    public var observer: ((WalkSubject, WalkStop) -> Void)?
    /// Walk our page's subjects over a mutated copy of its CFI: the helper edits its page's
    /// .eh_frame before it registers it, so every walker (in process, remote, gdb, eu-stack)
    /// reads the mutated CFI.
    public var mutation: CFIMutationKind?
    /// The mutation applied for each page subject (by `WalkSubject.description`).
    public private(set) var appliedMutations: [String: CFIMutation] = [:]
    /// For each page subject under a mutation, whether the mutated CFI changed the caller
    /// at each instruction of the ptrace run (`mutatedReason`, nil where it did not): the
    /// declaration the in-process walkers and gdb, which stop at the same instructions in
    /// their own helpers, are judged against.
    var mutationVerdicts: [String: [StopSite: Set<String?>]] = [:]

    public init(helper: String, walkers: [any Walker]) {
        self.helper = helper
        self.walkers = walkers
    }

    /// The walkers on this machine that read a stopped process from outside.
    public static func remoteWalkers() -> [any Walker] {
        [DwarfUnwinderWalker(), LibunwindPtraceWalker(), LibdwflWalker(), FramePointerWalker()]
    }

    /// `vunwind-walk-subject` next to the running executable (or `VUNWIND_WALK_SUBJECT`).
    public static func defaultHelper() -> String {
        if let p = getenv("VUNWIND_WALK_SUBJECT") { return String(cString: p) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { readlink("/proc/self/exe", $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count) }
        let exe = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : ""
        let dir = exe.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        return dir + "/vunwind-walk-subject"
    }

    /// Also run the in-process walkers (libgcc, libunwind local, our unwinder in process)
    /// in a second, untraced helper per subject.
    public var inProcess = false
    /// Also walk with gdb, one batch process per subject.
    public var gdb = false
    /// Also sample eu-stack: the first and last instruction of each call, every
    /// `euStackInterval`th stop, and every stop where another walker failed unexpectedly.
    public var euStack = false
    public var euStackInterval = 25

    /// Runs every subject; a subject the helper cannot run throws (bad input).
    public func run(_ subjects: [WalkSubject]) throws -> WalkReport {
        var report = WalkReport()
        for subject in subjects {
            // Under a mutation the ptrace run also declares where the others must fail.
            if !walkers.isEmpty || !(inProcess || gdb) || (mutation != nil && subject.isPage) { try run(subject, into: &report) }
            if inProcess { try runInProcess(subject, into: &report) }
            if gdb {
                if case let .vdso(symbol, _) = subject.target, ["__vdso_gettimeofday", "__vdso_clock_gettime"].contains(symbol) {
                    // About 1 ms per stepi: the vDSO's seqlock reader never gets a pass
                    // through without a tick's update (each pass is ~30 instructions).
                    report.skipped.append(WalkSkip(walker: Self.gdbWalkerName, subject: subject.name,
                        reason: "gdb steps about 1 ms per instruction: the vDSO's seqlock loop never sees a pass without an update"))
                } else {
                    try runGDB(subject, into: &report)
                }
            }
        }
        return report
    }

    struct StopKey: Hashable {
        var pc: UInt64
        var sp: UInt64
    }

    /// An instruction by module and offset: the same in every helper (the executable and
    /// libraries move with ASLR, the page does not).
    struct StopSite: Hashable {
        var module: String
        var offset: UInt64
        init(_ pc: UInt64, modules: ModuleMap) {
            if let m = modules.module(containing: pc) { (module, offset) = (m.name, pc &- m.base) } else { (module, offset) = ("", pc) }
        }
    }

    /// The helper's arguments for `subject`, with the mutation for a page subject.
    func helperArguments(_ subject: WalkSubject) -> [String] {
        subject.helperArguments + (mutation.map { subject.isPage ? ["mutate:" + $0.rawValue] : [] } ?? [])
    }

    /// What a CFI-reading walker in another helper must do at `pc` under the mutation
    /// (nil without one): fail where the ptrace run's mutated CFI changed the caller.
    func mutationDeclaration(_ subject: WalkSubject, pc: UInt64, modules: ModuleMap) -> Declaration? {
        guard let mutation, subject.isPage else { return nil }
        guard let verdicts = mutationVerdicts[subject.description]?[StopSite(pc, modules: modules)] else {
            // Not a stop of the ptrace run (gdb's slower steps can take a time value down
            // another branch): where the rows differ either outcome holds, elsewhere the
            // walker must pass.
            guard let m = appliedMutations[subject.description], let changed = try? m.changedAddresses(in: pc..<(pc &+ 1)),
                  !changed.isEmpty else { return .passes }
            return .either("the \(mutation.rawValue) mutation changed the rules at 0x\(String(pc, radix: 16)), not a stop of the ptrace run")
        }
        let reasons = verdicts.compactMap { $0 }
        guard let reason = reasons.first else { return .passes }
        // The same instruction with another stack (a loop pass, a handler) may differ.
        return verdicts.contains(nil) ? .either(reason) : .fails(reason)
    }

    /// True if `pc` is in the page whose CFI the mutation for `subject` edited.
    func isPageCode(_ pc: UInt64, subject: WalkSubject, modules: ModuleMap) -> Bool {
        guard let m = appliedMutations[subject.description], let module = modules.module(containing: pc),
              let section = module.elf.section(named: ".eh_frame") else { return false }
        return section.address &+ module.bias == m.address
    }

    struct Tally {
        var cell: WalkCell
        var kept = 0
    }

    public func run(_ subject: WalkSubject, into report: inout WalkReport) throws {
        guard access(helper, X_OK) == 0 else { throw WalkError("\(helper): the walk helper is missing (make build)") }
        var pipeFDs: [Int32] = [0, 0]
        guard vu_pipe_cloexec(&pipeFDs) == 0 else { throw SystemError(call: "pipe2", errno: errno) }
        defer { close(pipeFDs[0]) }
        let pid: pid_t
        do {
            // No Swift backtracer in the helper: its signal handlers would be stops too.
            pid = try Spawner.spawn(helper, helperArguments(subject), environment: ["SWIFT_BACKTRACE": "enable=no"],
                                    quiet: true, standardError: pipeFDs[1])
        } catch {
            close(pipeFDs[1])
            throw error
        }
        close(pipeFDs[1])
        let process = TracedProcess(pid: pid)
        var alive = true
        defer { if alive { process.kill() } }

        // Up to the trampoline's int3 (the helper installs the page, loads the library).
        while true {
            switch try process.wait() {
            case .stopped(signal: SIGTRAP): break
            case let .stopped(signal): try process.cont(signal: signal); continue
            case let .exited(status):
                alive = false
                throw WalkError("\(subject.name): the helper exited (\(status)) before the call: \(readAll(pipeFDs[0]))")
            case let .killed(signal, _):
                alive = false
                throw WalkError("\(subject.name): the helper died of signal \(signal) before the call: \(readAll(pipeFDs[0]))")
            }
            break
        }
        let memory = ProcessMemoryReader(pid: pid)
        let atCall = try process.registers()
        let truth = try GroundTruth(atCall: atCall, instruction: (try? memory.fetchBytes(from: atCall.rip, count: 3)) ?? [])
        var changed: (mutation: CFIMutation, text: Range<UInt64>)?
        if let mutation, subject.isPage {
            let (m, text) = try appliedMutation(mutation, pid: pid, memory: memory)
            appliedMutations[subject.description] = m
            changed = (m, text)
        }
        let modules = try ModuleMap(pid: pid, memory: memory)
        for w in walkers { try w.attach(pid: pid, modules: modules) }
        defer { for w in walkers { w.detach() } }
        var tallies = walkers.map { Tally(cell: WalkCell(walker: $0.name, subject: subject.name, path: subject.path, instructions: 0,
                                                        stops: 0, passed: 0, failed: 0, expected: 0, seconds: 0)) }
        let sampling = euStack
        var verdicts: [StopSite: Set<String?>] = [:]
        var euTally = Tally(cell: WalkCell(walker: EuStackSampler.name, subject: subject.name, path: subject.path, instructions: 0,
                                           stops: 0, passed: 0, failed: 0, expected: 0, seconds: 0))
        let control = helperSymbol("vu_walk_control", modules: modules)
        var released = false
        var seen = Set<UInt64>()
        let recorder = FailureRecorder(subject: subject, modules: modules, memory: memory, limit: failureLimit)
        var stops = 0, steps = 0
        var judged = Set<StopKey>()
        var pending: Int32 = 0
        while true {
            try process.singleStep(signal: pending)
            pending = 0
            guard let state = try process.wait(timeout: stepTimeout) else {
                throw WalkError("\(subject.name): one instruction did not finish in \(Int(stepTimeout)) s "
                                + "(a blocking system call, such as pause or sleep, cannot be stepped through)")
            }
            switch state {
            case .stopped(signal: SIGTRAP): break
            case let .stopped(signal):
                // The signal the stepped instruction raised: deliver it with the next step
                // (the stop is at the same instruction, already judged).
                pending = signal
                continue
            case let .exited(status):
                alive = false
                throw WalkError("\(subject.name): the helper exited (\(status)) inside the call: \(readAll(pipeFDs[0]))")
            case let .killed(signal, _):
                alive = false
                throw WalkError("\(subject.name): the helper died of signal \(signal) inside the call")
            }
            let registers = try process.registers()
            if registers.rip == truth.returnAddress && registers.rsp == truth.stackPointer { break }
            steps += 1
            guard steps <= maxStops else { throw WalkError("\(subject.name): more than \(maxStops) instructions in one call") }
            if case .page(_, .retry) = subject.target, !released, !seen.insert(registers.rip).inserted, let control {
                // The reader is looping on the held lock: let the holder finish the update.
                try releaseHolder(pid: pid, control: control)
                released = true
            }
            // An instruction already judged at the same stack pointer (a loop's next pass)
            // is stepped, not judged again: the walk there is the same, and a seqlock reader
            // (the vDSO's) only gets through its loop when a pass takes less than a tick.
            guard judged.insert(StopKey(pc: registers.rip, sp: registers.rsp)).inserted else { continue }
            stops += 1
            var reference = DwarfUnwinder(registers: registers.frameRegisters, memory: CachingMemoryReader(memory),
                                          modules: modules, maxFrames: 128)
            let stop = WalkStop(pid: pid, registers: registers, reference: reference.walk(), modules: modules, truth: truth)
            observer?(subject, stop)
            var mutated: String?
            if let changed {
                // The page's frame: frame 0, or inside a signal handler the frame after the
                // signal frame, whose registers come from the sigcontext (which a fixup
                // handler may have redirected), not from the mutated CFI.
                var frame: FrameRegisters? = changed.text.contains(registers.rip) ? registers.frameRegisters : nil
                if frame == nil, let i = stop.reference.frames.indices.dropFirst().first(where: {
                    stop.reference.frames[$0 - 1].isSignalFrame && changed.text.contains(stop.reference.frames[$0].pc)
                }) {
                    frame = stop.reference.frames[i].registers
                }
                if let frame, let pc = frame.pc, changed.mutation.changesCaller(at: pc, registers: frame, memory: memory) {
                    mutated = "the \(changed.mutation.kind.rawValue) mutation changed the caller at 0x\(String(pc, radix: 16))"
                }
                verdicts[StopSite(registers.rip, modules: modules), default: []].insert(mutated)
            }
            var disagreed = false
            for (i, walker) in walkers.enumerated() {
                let start = monotonicSeconds()
                var found: [Mismatch]
                do {
                    found = Judge.mismatches(try walker.walk(stop), truth: truth, modules: modules)
                } catch {
                    found = [Mismatch(field: "error", expected: "a walk", actual: "\(error)")]
                }
                tallies[i].cell.seconds += monotonicSeconds() - start
                tallies[i].cell.stops += 1
                let limitation = changed != nil && walker.readsCFI ? mutated : walker.limitation(at: stop)
                if recorder.judge(found, declared: Declaration(limitation), in: &tallies[i], pc: registers.rip, stop: stops - 1,
                                  into: &report) { disagreed = true }
            }
            // The call's last instruction: its `ret`, with the return address on top.
            let last = registers.rsp == truth.stackPointer &- 8
                && ((try? memory.fetchBytes(from: registers.rip, count: 1)) ?? []) == [0xc3]
            if sampling && (stops == 1 || last || stops % euStackInterval == 0 || disagreed) {
                let start = monotonicSeconds()
                let found = Judge.mismatches(try EuStackSampler.sample(process), truth: truth, modules: modules)
                euTally.cell.seconds += monotonicSeconds() - start
                euTally.cell.stops += 1
                recorder.judge(found, declared: Declaration(changed != nil ? mutated : nil), in: &euTally, pc: registers.rip,
                               stop: stops - 1, into: &report)
            }
            progress?(subject, stops)
        }
        if changed != nil { mutationVerdicts[subject.description] = verdicts }
        report.cells += tallies.map { var c = $0.cell; c.instructions = steps; return c }
        if sampling {
            euTally.cell.instructions = steps
            report.cells.append(euTally.cell)
        }
    }

    /// The mutation the helper applied to its page: the page's true CFI is emitted here
    /// again (the same image for the same address and CPU) and mutated, and the helper's
    /// .eh_frame must be exactly that mutated copy.
    func appliedMutation(_ kind: CFIMutationKind, pid: pid_t, memory: ProcessMemoryReader) throws -> (CFIMutation, Range<UInt64>) {
        let modules = try ModuleMap(pid: pid, memory: memory)
        guard let page = modules.modules.first(where: { $0.elf.section(named: ".eh_frame") != nil && (try? $0.elf.notes())?
                .contains(where: { $0.name == "vunwind" }) == true }),
              let section = page.elf.section(named: ".eh_frame") else { throw WalkError("no vunwind page in the helper") }
        let address = section.address &+ page.bias
        let bytes = try memory.fetchBytes(from: address, count: Int(section.size))
        let image = try VsyscallImage(base: page.base, features: CPUFeatures.current.emitter)
        guard image.ehFrame.ehFrameAddress == address else { throw WalkError("the helper's page is not the image emitted here") }
        let m = try CFIMutation(kind, ehFrame: image.ehFrame.ehFrame, address: address)
        guard m.mutated == bytes else { throw WalkError("the helper's .eh_frame is not the \(kind.rawValue) mutation of the page's CFI") }
        guard let text = page.elf.section(named: ".text") else { throw WalkError("the vunwind page has no .text") }
        return (m, (text.address &+ page.bias)..<(text.address &+ page.bias &+ text.size))
    }

    /// A defined symbol of the helper executable, at its run-time address.
    func helperSymbol(_ name: String, modules: ModuleMap) -> UInt64? {
        for module in modules.modules where module.name.hasSuffix("/vunwind-walk-subject") {
            if let s = try? module.elf.symbols().first(where: { $0.name == name && $0.isDefined }) { return s.value &+ module.bias }
        }
        return nil
    }

    /// Sets vu_walk_control.release = 1 and waits (bounded) until the holder says 2.
    func releaseHolder(pid: pid_t, control: UInt64) throws {
        let fd = open("/proc/\(pid)/mem", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError(call: "open /proc/\(pid)/mem", errno: errno) }
        defer { close(fd) }
        var one: UInt64 = 1
        guard pwrite(fd, &one, 8, off_t(control + 8)) == 8 else { throw SystemError(call: "write vu_walk_control", errno: errno) }
        for _ in 0..<10_000 {
            var value: UInt64 = 0
            guard pread(fd, &value, 8, off_t(control + 8)) == 8 else { throw SystemError(call: "read vu_walk_control", errno: errno) }
            if value == 2 { return }
            usleep(1000)
        }
        throw WalkError("the lock holder did not end its write section within 10 s")
    }

    func readAll(_ fd: Int32) -> String {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1024)
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        while out.count < 4096 {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            out += chunk[0..<n]
        }
        let text = String(decoding: out, as: UTF8.self).split(whereSeparator: \.isNewline).joined(separator: " ")
        return text.isEmpty ? "no message" : text
    }
}

func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
