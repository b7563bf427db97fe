// InProcessRun: the in-process walkers. The helper is not traced: it sets the trap flag
// itself and, at every SIGTRAP, walks its own stack with libgcc's _Unwind_Backtrace and
// nongnu libunwind's local unwinder (CWalkSubject/inprocess.c), writing records to a memfd
// that is its stdout. After the call it stops itself (SIGSTOP); the tester then reads its
// maps and memory (symbols, disassembly), judges each record against the ground truth the
// helper recorded at the subject's first instruction, and kills it.
//
// The stops differ from the ptrace run's in one way: signal handlers run with the trap
// flag cleared, so a fault path's handler instructions are not stops here.

import Bytes
import CVunwind
import CWalkSubject
import DwarfCFI
import Unwind
#if canImport(Glibc)
import Glibc
#endif

extension StackWalkTester {
    /// The in-process walkers' names, in the record's walker order.
    public static let inProcessWalkerNames = ["libgcc", "libunwind-local", "vunwind-local"]

    static let recordSize = MemoryLayout<vu_walk_record>.size
    static let frameSize = MemoryLayout<vu_walk_frame>.size

    func runInProcess(_ subject: WalkSubject, into report: inout WalkReport) throws {
        let started = monotonicSeconds()
        let records = vu_memfd_create("vunwind-walk-records")
        guard records >= 0 else { throw SystemError(call: "memfd_create", errno: errno) }
        defer { close(records) }
        var pipeFDs: [Int32] = [0, 0]
        guard vu_pipe_cloexec(&pipeFDs) == 0 else { throw SystemError(call: "pipe2", errno: errno) }
        defer { close(pipeFDs[0]) }
        let pid: pid_t
        do {
            pid = try Spawner.spawn(helper, ["--in-process"] + helperArguments(subject), environment: ["SWIFT_BACKTRACE": "enable=no"],
                                    standardOutput: records, standardError: pipeFDs[1])
        } catch {
            close(pipeFDs[1])
            throw error
        }
        close(pipeFDs[1])
        var reaped = false
        defer {
            if !reaped {
                _ = kill(pid, SIGKILL)
                var status: Int32 = 0
                _ = waitpid(pid, &status, 0)
            }
        }
        // Until it stops itself after the call (bounded: a hang is an error, not a hang).
        var status: Int32 = 0
        var waited = 0
        while true {
            let r = waitpid(pid, &status, WUNTRACED | WNOHANG)
            if r == pid {
                if status & 0xff == 0x7f { break }
                reaped = true
                throw WalkError("\(subject.name): the in-process helper ended before its stop: \(readAll(pipeFDs[0]))")
            }
            if r < 0 && errno != EINTR { throw SystemError(call: "waitpid(\(pid))", errno: errno) }
            waited += 1
            guard waited < 120_000 else { throw WalkError("\(subject.name): the in-process helper did not finish in 120 s") }
            usleep(1000)
        }
        let memory = ProcessMemoryReader(pid: pid)
        let modules = try ModuleMap(pid: pid, memory: memory)
        let recorder = FailureRecorder(subject: subject, modules: modules, memory: memory, limit: failureLimit)
        var size = stat()
        guard fstat(records, &size) == 0 else { throw SystemError(call: "fstat", errno: errno) }
        let count = Int(size.st_size) / Self.recordSize
        guard count >= 1 else { throw WalkError("\(subject.name): the in-process helper wrote no records") }
        var truth: GroundTruth?
        var tallies = Self.inProcessWalkerNames.map {
            Tally(cell: WalkCell(walker: $0, subject: subject.name, path: subject.path, instructions: 0, stops: 0,
                                 passed: 0, failed: 0, expected: 0, seconds: 0))
        }
        var judged = [Set<StopKey>](repeating: [], count: tallies.count)
        var record = vu_walk_record()
        for i in 0..<count {
            let n = withUnsafeMutableBytes(of: &record) { pread(records, $0.baseAddress, Self.recordSize, off_t(i * Self.recordSize)) }
            guard n == Self.recordSize, record.magic == VU_WALK_RECORD_MAGIC, record.frame_count <= UInt64(VU_WALK_RECORD_FRAMES) else {
                throw WalkError("\(subject.name): in-process record \(i) at offset \(i * Self.recordSize) is malformed")
            }
            let frames = Self.frames(of: &record)
            if record.walker == UInt64(VU_WALK_TRUTH) {
                truth = GroundTruth(returnAddress: record.rip, stackPointer: record.rsp, framePointer: record.frames.0.regs.1)
                continue
            }
            guard let truth, record.walker >= 1, record.walker <= UInt64(tallies.count) else {
                throw WalkError("\(subject.name): in-process record \(i) precedes the truth or names no walker")
            }
            let w = Int(record.walker) - 1
            tallies[w].cell.instructions += 1
            guard judged[w].insert(StopKey(pc: record.rip, sp: record.rsp)).inserted else { continue }
            tallies[w].cell.stops += 1
            var found = Judge.mismatches(frames, truth: truth, modules: modules)
            if record.fault_signal != 0 {
                // In process a wrong rule that leads to an unmapped address is a crash: the
                // helper's guard caught it and the frames are those before it.
                found.append(Mismatch(field: "error", expected: "a walk",
                                      actual: "signal \(record.fault_signal) reading 0x\(String(record.fault_address, radix: 16)) after \(frames.count) frames"))
            }
            recorder.judge(found,
                           declared: mutationDeclaration(subject, pc: record.rip, modules: modules) ?? .passes, in: &tallies[w],
                           pc: record.rip, stop: Int(record.stop), into: &report)
        }
        // The helper's whole run, shared by both walkers (they walk at the same stops).
        let elapsed = monotonicSeconds() - started
        report.cells += tallies.map { var c = $0.cell; c.seconds = elapsed; return c }
    }

    /// A record's frames as the judge takes them.
    static func frames(of record: inout vu_walk_record) -> [WalkedFrame] {
        let count = Int(record.frame_count)
        return withUnsafeBytes(of: &record.frames) { raw in
            (0..<count).map { i in
                let f = raw.load(fromByteOffset: i * frameSize, as: vu_walk_frame.self)
                var regs: [UInt16: UInt64] = [:]
                let values = withUnsafeBytes(of: f.regs) { Array($0.bindMemory(to: UInt64.self)) }
                for (j, r) in DwarfRegister.calleeSaved.enumerated() where f.known & (1 << UInt64(j)) != 0 { regs[r] = values[j] }
                return WalkedFrame(pc: f.pc, sp: f.known & UInt64(VU_WALK_KNOWN_SP) != 0 ? f.sp : nil, registers: regs)
            }
        }
    }
}
