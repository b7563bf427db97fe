// The vsyscall benchmark: our page's entries beside the kernel's vDSO, two real syscalls,
// the legacy [vsyscall] page and a floor, all in one run, on one pinned CPU.
//
// Every candidate is timed by the same C loop (vu_bench_loop in CVunwind/bench.c): n
// indirect calls through a function pointer between two `rdtscp; lfence`. A round runs one
// batch of each candidate in turn, so drift hits them alike; a candidate's figure is the
// median (and minimum) over rounds of batch cycles / n. Cycles are TSC cycles. A batch
// during which the thread was switched out (getrusage's context switches changed) is run
// again, so a busy machine inflates fewer samples; the report counts such batches.
//
// The vDSO's functions are called directly at their addresses from its dynamic symbol
// table (never through glibc's wrappers); the syscalls through C functions that execute
// the `syscall` instruction; the floor is a C function that returns 0, called the same way
// (the cost of the loop, the indirect call and the rdtscp pair).

import CVunwind
import ELF
import Unwind
import Vsyscall
#if canImport(Glibc)
import Glibc
#endif

struct VsyscallBenchmarkResult: Codable {
    struct Measured: Codable {
        var name: String
        /// ours, vdso, syscall, legacy or floor.
        var kind: String
        /// Where the function is (run-time address).
        var address: String
        var medianCycles: Double
        var minimumCycles: Double
        var maximumCycles: Double
        /// Median minus the floor's median: what the function itself costs.
        var netMedianCycles: Double
        /// For our entries: the vDSO counterpart's name and ours / it (medians).
        var anchor: String?
        var ratio: Double?
    }
    struct Unavailable: Codable {
        var name: String
        var reason: String
    }
    struct Ratio: Codable {
        var ours: String
        var anchor: String
        /// ours median / anchor median: at most 1 means ours costs no more.
        var ratio: Double
    }
    var cpu: Int
    var rounds: Int
    var calls: Int
    /// Batches run again because the thread was switched out during them.
    var preemptedBatchesRedone: Int
    /// Batches kept although preempted (after maxAttempts tries): their figure is inflated.
    var preemptedBatchesKept: Int
    var clockMode: String
    var vdsoAddress: String
    var candidates: [Measured]
    var unavailable: [Unavailable]
    var ratios: [Ratio]
}

enum VsyscallBenchmark {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// One timed function with its three integer-register arguments.
    struct Subject {
        var name: String
        var kind: String
        var function: UInt64
        var a1: Int = 0, a2: Int = 0, a3: Int = 0
        var anchor: String? = nil
        /// A sanity check of one call's return value, before anything is timed.
        var check: (Int) -> Bool = { $0 == 0 }
    }

    static let legacyGettimeofday: UInt64 = 0xffff_ffff_ff60_0000
    /// Runs of one batch before a preempted one is kept.
    static let maxAttempts = 10

    /// The vDSO's exported functions, by name, at their run-time addresses.
    static func vdsoFunctions() throws -> (base: UInt64, functions: [String: UInt64]) {
        let (base, bytes) = try VDSOImage.current()
        let elf = try ELFFile(bytes: bytes)
        // The vDSO is linked at 0; its load bias is its mapped base minus its first PT_LOAD.
        let bias = base &- (elf.firstLoadAddress ?? 0)
        var out: [String: UInt64] = [:]
        for s in try elf.symbols() where s.isDefined && s.value != 0 && s.type == 2 /* STT_FUNC */ {
            if out[s.name] == nil { out[s.name] = bias &+ s.value }
        }
        return (base, out)
    }

    /// The legacy page's gettimeofday is callable only when [vsyscall] is mapped executable
    /// (`--xp`: emulated by the kernel, each call a trap; `r-xp`: native code).
    static func legacyPageState() -> String? {
        guard let map = try? MemoryMap.read() else { return "cannot read /proc/self/maps" }
        guard let m = map.mappings.first(where: { $0.path == "[vsyscall]" }) else {
            return "no [vsyscall] mapping (vsyscall=none)"
        }
        return m.executable ? nil : "[vsyscall] is mapped \(m.permissions) (not executable)"
    }

    static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

    static func run(rounds: Int, calls: Int, cpu requested: Int?) throws -> VsyscallBenchmarkResult {
        // Install before pinning: the timekeeper thread inherits its creator's affinity, and
        // should stay free to run on another CPU than the one measured.
        let page = try Vsyscall.install()
        defer { try? page.uninstall() }

        let cpu = requested ?? Int(vu_sched_getcpu())
        guard vu_pin_to_cpu(Int32(cpu)) == 0 else {
            throw Failure(description: "cannot pin to CPU \(cpu): \(String(cString: strerror(errno)))")
        }
        defer { _ = vu_unpin() }
        let (vdsoBase, vdso) = try vdsoFunctions()
        var fns = vu_bench_functions()
        vu_bench_get_functions(&fns)
        func address(_ p: UnsafeRawPointer?) -> UInt64 { UInt64(UInt(bitPattern: p)) }

        // Output buffers: one set per candidate, so no two candidates share a line.
        let buffers = UnsafeMutableRawPointer.allocate(byteCount: 64 * 32, alignment: 64)
        buffers.initializeMemory(as: UInt8.self, repeating: 0, count: 64 * 32)
        defer { buffers.deallocate() }
        var nextBuffer = 0
        func buffer() -> Int {
            defer { nextBuffer += 1 }
            return Int(bitPattern: buffers + 64 * nextBuffer)
        }

        let now = Int(Glibc.time(nil))
        let isNow: (Int) -> Bool = { abs($0 - now) < 600 }
        let pid = Int(getpid())
        let realtime = Int(CLOCK_REALTIME), monotonic = Int(CLOCK_MONOTONIC)
        var subjects: [Subject] = []
        var unavailable: [VsyscallBenchmarkResult.Unavailable] = []
        subjects.append(Subject(name: "floor: return 0 (bare rdtscp loop)", kind: "floor",
                                function: address(fns.nothing), a1: buffer()))
        func vdsoSubject(_ symbol: String, _ label: String, _ a1: Int, _ a2: Int, _ a3: Int = 0,
                         check: @escaping (Int) -> Bool = { $0 == 0 }) {
            if let f = vdso[symbol] {
                subjects.append(Subject(name: label, kind: "vdso", function: f, a1: a1, a2: a2, a3: a3, check: check))
            } else {
                unavailable.append(.init(name: label, reason: "the vDSO exports no \(symbol)"))
            }
        }
        func ours(_ kind: EntryKind, _ label: String, anchor: String, _ a1: Int, _ a2: Int, _ a3: Int = 0,
                  check: @escaping (Int) -> Bool = { $0 == 0 }) {
            subjects.append(Subject(name: label, kind: "ours", function: page.image.entry(kind).address,
                                    a1: a1, a2: a2, a3: a3, anchor: anchor, check: check))
        }
        let vdsoGTOD = "__vdso_gettimeofday(&tv, NULL)"
        let vdsoMono = "__vdso_clock_gettime(MONOTONIC, &ts)"
        let vdsoReal = "__vdso_clock_gettime(REALTIME, &ts)"
        let vdsoTime = "__vdso_time(NULL)"
        let vdsoCPU = "__vdso_getcpu(&cpu, &node, NULL)"
        ours(.gettimeofday, "vgettimeofday(&tv, NULL)", anchor: vdsoGTOD, buffer(), 0)
        vdsoSubject("__vdso_gettimeofday", vdsoGTOD, buffer(), 0)
        ours(.clockGettime, "vclock_gettime(MONOTONIC, &ts)", anchor: vdsoMono, monotonic, buffer())
        vdsoSubject("__vdso_clock_gettime", vdsoMono, monotonic, buffer())
        ours(.clockGettime, "vclock_gettime(REALTIME, &ts)", anchor: vdsoReal, realtime, buffer())
        vdsoSubject("__vdso_clock_gettime", vdsoReal, realtime, buffer())
        ours(.time, "vtime(NULL)", anchor: vdsoTime, 0, 0, check: isNow)
        vdsoSubject("__vdso_time", vdsoTime, 0, 0, check: isNow)
        let (cpuOurs, nodeOurs, cpuTheirs, nodeTheirs) = (buffer(), buffer(), buffer(), buffer())
        ours(.getcpu, "vgetcpu(&cpu, &node, NULL)", anchor: vdsoCPU, cpuOurs, nodeOurs)
        vdsoSubject("__vdso_getcpu", vdsoCPU, cpuTheirs, nodeTheirs)
        subjects.append(Subject(name: "getpid syscall", kind: "syscall", function: address(fns.getpid_syscall),
                                check: { $0 == pid }))
        subjects.append(Subject(name: "gettimeofday syscall (&tv, NULL)", kind: "syscall",
                                function: address(fns.gettimeofday_syscall), a1: buffer()))
        let legacy = "legacy [vsyscall] gettimeofday (&tv, NULL)"
        if let reason = legacyPageState() {
            unavailable.append(.init(name: legacy, reason: reason))
        } else {
            subjects.append(Subject(name: legacy, kind: "legacy", function: legacyGettimeofday, a1: buffer()))
        }

        // Every candidate once, checked: a failing call would be timed as something else.
        for s in subjects {
            let r = vu_bench_call(UnsafeRawPointer(bitPattern: UInt(s.function)), s.a1, s.a2, s.a3)
            guard s.check(r) else { throw Failure(description: "\(s.name) returned \(r)") }
        }
        let cpuSeen = UnsafePointer<UInt32>(bitPattern: cpuOurs)!.pointee
        let cpuVDSO = vdso["__vdso_getcpu"] == nil ? UInt32(cpu) : UnsafePointer<UInt32>(bitPattern: cpuTheirs)!.pointee
        guard cpuSeen == UInt32(cpu), cpuVDSO == UInt32(cpu) else {
            throw Failure(description: "pinned to CPU \(cpu) but vgetcpu says \(cpuSeen), the vDSO \(cpuVDSO)")
        }

        func batch(_ s: Subject) -> UInt64 {
            vu_bench_loop(UnsafeRawPointer(bitPattern: UInt(s.function)), s.a1, s.a2, s.a3, UInt64(calls))
        }
        // One warm-up round (page faults, caches, branch predictors), then the measured ones.
        for s in subjects { _ = batch(s) }
        var samples = [[Double]](repeating: [], count: subjects.count)
        var redone = 0, preemptedKept = 0
        for _ in 0..<rounds {
            for (i, s) in subjects.enumerated() {
                // A batch during which the thread was switched out timed another task too:
                // run it again (a few times at most; then keep it, and say so).
                var cycles: UInt64 = 0
                for attempt in 1...maxAttempts {
                    let before = vu_bench_context_switches()
                    cycles = batch(s)
                    if vu_bench_context_switches() == before { break }
                    if attempt == maxAttempts { preemptedKept += 1 } else { redone += 1 }
                }
                samples[i].append(Double(cycles) / Double(calls))
            }
        }

        // The middle sample (the lower of the two middle ones for an even count).
        let medians = samples.map { $0.sorted()[($0.count - 1) / 2] }
        let floor = medians[0]
        var measured: [VsyscallBenchmarkResult.Measured] = []
        var ratios: [VsyscallBenchmarkResult.Ratio] = []
        for (i, s) in subjects.enumerated() {
            var m = VsyscallBenchmarkResult.Measured(
                name: s.name, kind: s.kind, address: hex(s.function), medianCycles: medians[i],
                minimumCycles: samples[i].min()!, maximumCycles: samples[i].max()!, netMedianCycles: medians[i] - floor)
            if let a = s.anchor, let j = subjects.firstIndex(where: { $0.name == a }) {
                m.anchor = a
                m.ratio = medians[i] / medians[j]
                ratios.append(.init(ours: s.name, anchor: a, ratio: m.ratio!))
            }
            measured.append(m)
        }
        return VsyscallBenchmarkResult(cpu: cpu, rounds: rounds, calls: calls, preemptedBatchesRedone: redone,
                                       preemptedBatchesKept: preemptedKept,
                                       clockMode: page.clockMode == .tsc ? "tsc" : "syscall",
                                       vdsoAddress: hex(vdsoBase), candidates: measured,
                                       unavailable: unavailable, ratios: ratios)
    }

    static func render(_ r: VsyscallBenchmarkResult) -> String {
        var out = "vsyscall: TSC cycles per call, pinned to CPU \(r.cpu), clock mode \(r.clockMode): "
        out += "medians of \(r.rounds) interleaved rounds of \(r.calls) calls "
        out += "(net = median - floor; ratio = ours / vDSO, medians)\n"
        if r.preemptedBatchesRedone > 0 || r.preemptedBatchesKept > 0 {
            out += "  preempted batches: \(r.preemptedBatchesRedone) run again"
            out += r.preemptedBatchesKept > 0 ? ", \(r.preemptedBatchesKept) kept (a busy machine)\n" : "\n"
        }
        func pad(_ s: String, _ w: Int, left: Bool = false) -> String {
            let p = String(repeating: " ", count: max(0, w - s.count))
            return left ? p + s : s + p
        }
        out += "    " + pad("", 44) + pad("median", 9, left: true) + pad("min", 9, left: true) + pad("max", 9, left: true)
            + pad("net", 9, left: true) + pad("ratio", 9, left: true) + "\n"
        for m in r.candidates {
            var line = "    " + pad(m.name, 44) + pad(String(format2: m.medianCycles, 1), 9, left: true)
                + pad(String(format2: m.minimumCycles, 1), 9, left: true)
                + pad(String(format2: m.maximumCycles, 1), 9, left: true)
                + pad(m.kind == "floor" ? "" : String(format2: m.netMedianCycles, 1), 9, left: true)
            if let ratio = m.ratio { line += pad(String(format2: ratio, 2) + "x", 9, left: true) }
            out += line + "\n"
        }
        for u in r.unavailable {
            out += "    " + pad(u.name, 44) + "  unavailable: \(u.reason)\n"
        }
        return out
    }
}
