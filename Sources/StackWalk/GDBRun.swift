// GDBRun: gdb as a walker. One `gdb -batch` per subject path runs the helper untraced by
// us, and a Python script (below) stepi's from the trampoline's int3 to the return; at each
// stop it lists every frame gdb unwinds with its pc, rsp and the callee-saved registers
// gdb recovers (`frame N` then `info registers`, through the Python API). The records go
// to a file in a private temporary directory; then the script waits, with the helper
// still stopped, while the tester reads the helper's maps and memory and judges each stop
// against the truth the script read at the int3 (as the ptrace run does).
//
// Signals: `handle SIGSEGV stop pass`, so a fault is a stop and the next stepi enters the
// handler; gdb finds our page through its JIT interface (the helper registers it).

import Bytes
import CVunwind
import DwarfCFI
import Unwind
#if canImport(Glibc)
import Glibc
#endif

extension StackWalkTester {
    static let gdbScript = #"""
import gdb, os, struct, sys
out = open(os.environ["VU_WALK_OUT"], "w")
def hx(v):
    return "-" if v is None else "%x" % (v & 0xffffffffffffffff)
def reg(frame, name):
    try:
        v = frame.read_register(name)
        if v.is_optimized_out:
            return None
        return int(v)
    except gdb.error:
        return None
for c in ["set pagination off", "set confirm off", "set startup-with-shell off", "set debuginfod enabled off",
          "handle SIGSEGV stop print pass", "handle SIGBUS stop print pass"]:
    try:
        gdb.execute(c, to_string=True)
    except gdb.error:
        pass
gdb.execute("run", to_string=True)
inferior = gdb.selected_inferior()
pc = int(gdb.parse_and_eval("$pc")) & 0xffffffffffffffff
if bytes(inferior.read_memory(pc, 3)) != b"\x41\xff\xd3":
    out.write("E the helper stopped at %x, not at the trampoline's call\n" % pc)
    out.close()
    sys.exit(0)
ret = pc + 3
top = int(gdb.parse_and_eval("$rsp")) & 0xffffffffffffffff
out.write("T %x %x %x\n" % (ret, top, int(gdb.parse_and_eval("$rbp")) & 0xffffffffffffffff))
limit = int(os.environ.get("VU_WALK_LIMIT", "200000"))
steps = 0
# A stop already listed (a loop's next pass) is stepped, not walked again; on the
# lock-retry path its first repeat lets the holder thread finish the update.
seen = set()
released = os.environ.get("VU_WALK_RETRY") != "1"
try:
    control = int(gdb.parse_and_eval("(unsigned long)&vu_walk_control"))
except gdb.error:
    control = None
while True:
    gdb.execute("stepi", to_string=True)
    pc = int(gdb.parse_and_eval("$pc")) & 0xffffffffffffffff
    sp = int(gdb.parse_and_eval("$rsp")) & 0xffffffffffffffff
    if pc == ret and sp == top:
        break
    steps += 1
    if steps > limit:
        out.write("E more than %d instructions in one call, the last at %x\n" % (limit, pc))
        break
    if (pc, sp) in seen:
        if not released and control is not None:
            inferior.write_memory(control + 8, struct.pack("<Q", 1))
            released = True
        out.write("R\n")
        continue
    seen.add((pc, sp))
    frames = []
    f = gdb.newest_frame()
    while f is not None and len(frames) < 64:
        frames.append((f.pc(), [reg(f, r) for r in ["rsp", "rbx", "rbp", "r12", "r13", "r14", "r15"]]))
        try:
            f = f.older()
        except gdb.error:
            f = None
    out.write("S %x %x %d\n" % (pc, sp, len(frames)))
    for p, regs in frames:
        out.write("F %x %s\n" % (p, " ".join(hx(v) for v in regs)))
out.write("P %d\nD\n" % inferior.pid)
out.flush()
sys.stdin.readline()
gdb.execute("kill", to_string=True)
"""#

    public static let gdbWalkerName = "gdb"
    /// gdb's bound on the instructions of one call (it steps ~1 ms each).
    var gdbStepLimit: Int { 10_000 }

    func runGDB(_ subject: WalkSubject, into report: inout WalkReport) throws {
        let started = monotonicSeconds()
        let gdb = "/usr/bin/gdb"
        guard access(gdb, X_OK) == 0 else { throw WalkError("gdb is not installed (make deps)") }
        var template = Array("/tmp/vunwind-walk-XXXXXX".utf8CString)
        guard let dirp = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw SystemError(call: "mkdtemp", errno: errno)
        }
        let dir = String(cString: dirp)
        let script = dir + "/walk.py", records = dir + "/records"
        defer { unlink(script); unlink(records); rmdir(dir) }
        try writeFile(script, Array(Self.gdbScript.utf8))
        var input: [Int32] = [0, 0]
        guard vu_pipe_cloexec(&input) == 0 else { throw SystemError(call: "pipe2", errno: errno) }
        defer { close(input[1]) }
        let pid = try Spawner.spawn(gdb, ["-batch", "-nx", "-q", "-x", script, "--args", helper, "--untraced"] + helperArguments(subject),
                                    environment: ["SWIFT_BACKTRACE": "enable=no", "VU_WALK_OUT": records,
                                                  "VU_WALK_RETRY": subject.path == "retry" && subject.isPage ? "1" : "0",
                                                  "VU_WALK_LIMIT": String(min(maxStops, gdbStepLimit))],
                                    quiet: true, standardInput: input[0])
        close(input[0])
        var reaped = false
        defer {
            if !reaped {
                _ = kill(pid, SIGKILL)
                var status: Int32 = 0
                _ = waitpid(pid, &status, 0)
            }
        }
        // Until the script says it is done (bounded), or gdb ends first.
        var text = ""
        var waited = 0
        while true {
            if let bytes = try? readFile(records), bytes.last == 0x0a, bytes.suffix(2) == [0x44, 0x0a] || bytes.starts(with: [0x45]) {
                text = String(decoding: bytes, as: UTF8.self)
                break
            }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                reaped = true
                throw WalkError("\(subject.name): gdb ended before its walk was done")
            }
            waited += 1
            guard waited < 300_000 else { throw WalkError("\(subject.name): gdb did not finish in 300 s") }
            usleep(1000)
        }
        let lines = text.split(separator: "\n")
        if let e = lines.first, e.hasPrefix("E ") { throw WalkError("\(subject.name): gdb: \(e.dropFirst(2))") }
        guard let t = lines.first, t.hasPrefix("T "), let p = lines.last(where: { $0.hasPrefix("P ") }),
              let helperPID = pid_t(p.dropFirst(2)) else { throw WalkError("\(subject.name): gdb's records are malformed") }
        let tv = t.split(separator: " ").dropFirst().compactMap { UInt64($0, radix: 16) }
        guard tv.count == 3 else { throw WalkError("\(subject.name): gdb's truth line is malformed") }
        let truth = GroundTruth(returnAddress: tv[0], stackPointer: tv[1], framePointer: tv[2])
        let memory = ProcessMemoryReader(pid: helperPID)
        let modules = try ModuleMap(pid: helperPID, memory: memory)
        let recorder = FailureRecorder(subject: subject, modules: modules, memory: memory, limit: failureLimit)
        var tally = Tally(cell: WalkCell(walker: Self.gdbWalkerName, subject: subject.name, path: subject.path, instructions: 0,
                                         stops: 0, passed: 0, failed: 0, expected: 0, seconds: 0))
        var judged = Set<StopKey>()
        var i = 1
        let names: [UInt16] = [DwarfRegister.rbx, DwarfRegister.rbp, DwarfRegister.r12, DwarfRegister.r13, DwarfRegister.r14, DwarfRegister.r15]
        while i < lines.count, lines[i] == "R" || lines[i].hasPrefix("S ") {
            if lines[i] == "R" {
                tally.cell.instructions += 1
                i += 1
                continue
            }
            let head = lines[i].split(separator: " ")
            guard head.count == 4, let pc = UInt64(head[1], radix: 16), let sp = UInt64(head[2], radix: 16), let n = Int(head[3]),
                  n >= 0, n <= 64, i + n < lines.count else { throw WalkError("\(subject.name): gdb's stop record \(i) is malformed") }
            var frames: [WalkedFrame] = []
            for line in lines[(i + 1)...(i + n)] {
                let f = line.split(separator: " ")
                guard f.count == 9, f[0] == "F", let fpc = UInt64(f[1], radix: 16) else {
                    throw WalkError("\(subject.name): gdb's frame record is malformed")
                }
                var regs: [UInt16: UInt64] = [:]
                for (j, r) in names.enumerated() { if let v = UInt64(f[3 + j], radix: 16) { regs[r] = v } }
                frames.append(WalkedFrame(pc: fpc, sp: UInt64(f[2], radix: 16), registers: regs))
            }
            i += n + 1
            tally.cell.instructions += 1
            guard judged.insert(StopKey(pc: pc, sp: sp)).inserted else { continue }
            tally.cell.stops += 1
            var declared = mutationDeclaration(subject, pc: pc, modules: modules) ?? .passes
            if case .fails = declared, isPageCode(pc, subject: subject, modules: modules),
               (try? memory.fetchBytes(from: pc, count: 1)) == [0xc3] {
                // At the page's `ret` gdb's amd64 epilogue unwinder (prepended to the DWARF
                // one, and trusted for code no compiler's symtab vouches for) takes frame 0
                // as CFA = rsp + 8: it reads no CFI there, so a mutation cannot fail it.
                declared = .passes
            }
            recorder.judge(Judge.mismatches(frames, truth: truth, modules: modules),
                           declared: declared, in: &tally, pc: pc,
                           stop: tally.cell.stops - 1, into: &report)
        }
        if let e = lines.first(where: { $0.hasPrefix("E ") }), let last = e.split(separator: " ").last.flatMap({ UInt64($0, radix: 16) }),
           modules.module(containing: last)?.name == "[vdso]" {
            // Stuck in the vDSO's seqlock loop, which gdb steps too slowly to leave: the
            // stops it did judge count, the rest of the call is declared out of reach.
            report.skipped.append(WalkSkip(walker: Self.gdbWalkerName, subject: subject.name,
                reason: "gdb steps about 1 ms per instruction: after \(tally.cell.stops) stops the vDSO's seqlock loop never saw a pass without an update"))
        } else if let e = lines.first(where: { $0.hasPrefix("E ") }) {
            // The step limit: gdb could not finish the call.
            tally.cell.failed += 1
            report.failures.append(WalkFailure(walker: Self.gdbWalkerName, subject: subject.name, path: subject.path,
                                               address: "0x" + String(truth.returnAddress, radix: 16), function: "?", offset: 0,
                                               instruction: "?", stop: tally.cell.stops, field: "error", expected: "the call's return",
                                               actual: String(e.dropFirst(2))))
        }
        // gdb's whole run: its start, the stepping, the Python frames (the judging is ours).
        tally.cell.seconds = monotonicSeconds() - started
        report.cells.append(tally.cell)
        // Let the script kill the helper and gdb exit.
        _ = write(input[1], "\n", 1)
        var status: Int32 = 0
        for _ in 0..<5000 {
            if waitpid(pid, &status, WNOHANG) == pid { reaped = true; break }
            usleep(1000)
        }
    }
}

/// Writes a new file (mode 0600) in a directory of ours.
func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
    guard fd >= 0 else { throw SystemError(call: "open \(path)", errno: errno) }
    defer { close(fd) }
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { throw SystemError(call: "write \(path)", errno: errno) }
        done += n
    }
}

/// Reads a whole (small) file; nil if it cannot be opened.
func readFile(_ path: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
    guard fd >= 0 else { throw SystemError(call: "open \(path)", errno: errno) }
    defer { close(fd) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while out.count < 1 << 28 {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        out += chunk[0..<n]
    }
    return out
}
