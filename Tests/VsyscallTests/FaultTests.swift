// FaultTests: what a bad user pointer does to each vsyscall entry.
//
//   efault mode (in this process): every entry, every pointer argument, every kind of bad
//   pointer returns exactly what the real syscall returns (a raw `syscall` instruction,
//   never glibc, which may answer from the vDSO), and exactly the faulting stores go
//   through the fixup table.
//   A fault outside the fixup table still kills (fixture-vsyscall crash, spawned).
//   sigsegv mode (fixture-vsyscall sigsegv-probe, spawned): the fault is delivered as
//   SIGSEGV with si_addr inside the bad buffer.

import CVunwind
import Foundation
import TestSupport
import Unwind
import Vsyscall
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The kinds of bad pointer, in the order the fixture prints them.
fileprivate enum FaultPointerKind: String, CaseIterable {
    case null
    case eight
    case kernel
    case unmapped
    case readOnly = "read-only"
    case protNone = "prot-none"
    case straddle

    /// A canonical kernel address (the start of the x86-64 kernel text mapping).
    static let kernelAddress: UInt64 = 0xffff_ffff_8100_0000

    /// The si_code the kernel gives a user store there. A user access to a kernel address
    /// is a page fault the kernel reports as SEGV_MAPERR with si_addr = the address (on a
    /// CPU with LASS it would be a #GP instead: si_addr 0, SI_KERNEL; this test would then
    /// fail rather than pass by accident).
    var expectedCode: Int32 {
        switch self {
        case .readOnly, .protNone: return 2  // SEGV_ACCERR: mapped, not writable
        case .null, .eight, .kernel, .unmapped, .straddle: return 1  // SEGV_MAPERR
        }
    }
}

/// One pointer argument of one entry: the call's arguments with the bad pointer in place.
fileprivate struct FaultArgumentCase: Sendable {
    var entry: EntryKind
    var argument: String
    /// Bytes the syscall would store there.
    var size: Int
    /// NULL means "store nothing" (for this argument, with the other pointers NULL).
    var nullAllowed: Bool
    /// The argument is never written (getcpu's cache): no pointer faults.
    var ignored: Bool
    /// The arguments, given the bad pointer and a valid scratch buffer.
    var arguments: @Sendable (_ bad: Int, _ good: Int) -> [Int]

    func faults(_ kind: FaultPointerKind) -> Bool { !ignored && !(kind == .null && nullAllowed) }

    /// Every pointer argument of every entry (cache included: it must be ignored).
    static let all: [FaultArgumentCase] = [
        .init(entry: .gettimeofday, argument: "tv", size: 16, nullAllowed: true, ignored: false) { p, _ in [p, 0] },
        .init(entry: .gettimeofday, argument: "tz", size: 8, nullAllowed: true, ignored: false) { p, _ in [0, p] },
        .init(entry: .time, argument: "t", size: 8, nullAllowed: true, ignored: false) { p, _ in [p] },
        .init(entry: .getcpu, argument: "cpu", size: 4, nullAllowed: true, ignored: false) { p, _ in [p, 0, 0] },
        .init(entry: .getcpu, argument: "node", size: 4, nullAllowed: true, ignored: false) { p, _ in [0, p, 0] },
        // cpu and node valid, so the success has values to check.
        .init(entry: .getcpu, argument: "cache", size: 128, nullAllowed: true, ignored: true) { p, g in [g, g + 4, p] },
        // clockid 0 = CLOCK_REALTIME; NULL ts is -EFAULT for the syscall.
        .init(entry: .clockGettime, argument: "ts", size: 16, nullAllowed: false, ignored: false) { p, _ in [0, p] },
    ]
}

/// The pages behind the bad pointers, private to one test. Mapped with MAP_FIXED_NOREPLACE
/// far below the mmap area, which the kernel fills top-down, so no other thread's mmap
/// lands in the holes while the test runs:
///   +0 read-only, +1 PROT_NONE, +2 unmapped (mapped, then unmapped), +3 read+write,
///   +4 unmapped (the straddling buffer runs from the end of +3 into +4).
fileprivate final class FaultBadPages {
    static let region: UInt64 = 0x5501_0000_0000
    static let pages = 5
    static let page = UInt64(sysconf(Int32(_SC_PAGESIZE)))

    var readOnly: UInt64 { Self.region }
    var protNone: UInt64 { Self.region + Self.page }
    var unmapped: UInt64 { Self.region + 2 * Self.page }
    var straddleFirst: UInt64 { Self.region + 3 * Self.page }
    var straddleHole: UInt64 { Self.region + 4 * Self.page }

    init() throws {
        try Self.map(readOnly, PROT_READ)
        try Self.map(protNone, PROT_NONE)
        try Self.map(unmapped, PROT_READ | PROT_WRITE)
        try Self.unmap(unmapped, 1)
        try Self.map(straddleFirst, PROT_READ | PROT_WRITE, pages: 2)
        try Self.unmap(straddleHole, 1)
    }

    deinit { _ = try? Self.unmap(Self.region, Self.pages) }

    static func map(_ address: UInt64, _ prot: Int32, pages: Int = 1) throws {
        let p = mmap(UnsafeMutableRawPointer(bitPattern: UInt(address)), pages * Int(page), prot,
                     MAP_PRIVATE | MAP_ANONYMOUS | Int32(VU_MAP_FIXED_NOREPLACE), -1, 0)
        guard p != MAP_FAILED else { throw SystemError(call: "mmap at 0x\(String(address, radix: 16))", errno: errno) }
        guard UInt64(UInt(bitPattern: p)) == address else {
            munmap(p, pages * Int(page))
            throw SystemError(call: "mmap at 0x\(String(address, radix: 16)) (placed elsewhere)", errno: EEXIST)
        }
    }

    static func unmap(_ address: UInt64, _ pages: Int) throws {
        guard munmap(UnsafeMutableRawPointer(bitPattern: UInt(address)), pages * Int(page)) == 0 else {
            throw SystemError(call: "munmap", errno: errno)
        }
    }

    /// True if nothing is mapped at `address` (msync fails with ENOMEM there).
    static func isUnmapped(_ address: UInt64) -> Bool {
        msync(UnsafeMutableRawPointer(bitPattern: UInt(address)), Int(page), MS_ASYNC) != 0 && errno == ENOMEM
    }

    /// The pointer of `kind` for an argument of `size` bytes.
    func pointer(_ kind: FaultPointerKind, size: Int) -> UInt64 {
        switch kind {
        case .null: return 0
        case .eight: return 8
        case .kernel: return FaultPointerKind.kernelAddress
        case .unmapped: return unmapped
        case .readOnly: return readOnly
        case .protNone: return protNone
        case .straddle: return straddleHole - UInt64(size / 2)
        }
    }
}

fileprivate let efault = -Int(EFAULT)

/// The real syscall, through the `syscall` instruction.
fileprivate func rawSyscall(_ entry: EntryKind, _ a: [Int]) -> Int {
    let x = a + Array(repeating: 0, count: 6 - a.count)
    return vu_raw_syscall6(Int(entry.syscallNumber), x[0], x[1], x[2], x[3], x[4], x[5])
}

/// The entry, through the page's typed pointer.
fileprivate func callEntry(_ page: VsyscallPage, _ entry: EntryKind, _ a: [Int]) -> Int {
    switch entry {
    case .gettimeofday: return page.gettimeofday(.init(bitPattern: a[0]), .init(bitPattern: a[1]))
    case .time: return page.time(.init(bitPattern: a[0]))
    case .getcpu: return page.getcpu(.init(bitPattern: a[0]), .init(bitPattern: a[1]), .init(bitPattern: a[2]))
    case .clockGettime: return page.clockGettime(Int32(a[0]), .init(bitPattern: a[1]))
    }
}

final class FaultTests: XCTestCase {
    // MARK: A. efault mode, in this process

    /// Runs every (entry, argument, kind) case against the installed page; returns the
    /// number of cases whose store faulted (the entry read the clock itself) and checks
    /// each result against the real syscall and against the expected value.
    private func compareEveryBadPointer(_ page: VsyscallPage, entriesStore: (EntryKind) -> Bool,
                                        file: StaticString = #filePath, line: UInt = #line) throws -> Int {
        let bad = try FaultBadPages()
        let good = UnsafeMutablePointer<UInt32>.allocate(capacity: 2)
        defer { good.deallocate() }
        let cpus = Int(sysconf(Int32(_SC_NPROCESSORS_CONF)))
        var faulting = 0
        var cases = 0
        for c in FaultArgumentCase.all {
            for kind in FaultPointerKind.allCases {
                let label = "\(c.entry.name)(\(c.argument) = \(kind.rawValue))"
                let p = Int(bitPattern: UInt(bad.pointer(kind, size: c.size)))
                let args = c.arguments(p, Int(bitPattern: good))
                good.initialize(repeating: 0xdead, count: 2)
                let kernel = rawSyscall(c.entry, args)
                let kernelCPU = good[0], kernelNode = good[1]
                good.initialize(repeating: 0xdead, count: 2)
                let ours = callEntry(page, c.entry, args)
                cases += 1
                // Exactly the kernel's answer; time's seconds only when it succeeds (the two
                // calls may straddle a second boundary).
                let isSeconds = c.entry == .time && !c.faults(kind)
                if !isSeconds {
                    XCTAssertEqual(ours, kernel, "\(label): the entry and the syscall disagree", file: file, line: line)
                }
                if c.faults(kind) {
                    XCTAssertEqual(kernel, efault, "\(label): the kernel did not return -EFAULT", file: file, line: line)
                    if entriesStore(c.entry) { faulting += 1 }
                } else if isSeconds {
                    // time(NULL): the seconds, close to the kernel's.
                    XCTAssertLessThanOrEqual(abs(ours - kernel), 2, "\(label): \(ours) vs \(kernel)", file: file, line: line)
                    XCTAssertGreaterThan(ours, 1_700_000_000, label, file: file, line: line)
                } else {
                    XCTAssertEqual(ours, 0, label, file: file, line: line)
                    if c.argument == "cache" {
                        XCTAssertLessThan(Int(good[0]), cpus, "\(label): cpu \(good[0])", file: file, line: line)
                        XCTAssertLessThan(Int(kernelCPU), cpus, "\(label): kernel cpu \(kernelCPU)", file: file, line: line)
                        XCTAssertEqual(good[1], kernelNode, "\(label): node", file: file, line: line)
                    }
                }
            }
        }
        XCTAssertEqual(cases, 49, file: file, line: line)
        // The holes stayed holes: the comparisons above were of unmapped memory.
        XCTAssertTrue(FaultBadPages.isUnmapped(bad.unmapped), file: file, line: line)
        XCTAssertTrue(FaultBadPages.isUnmapped(bad.straddleHole), file: file, line: line)
        XCTAssertFalse(FaultBadPages.isUnmapped(bad.straddleFirst), file: file, line: line)
        return faulting
    }

    func testEveryBadPointerToEveryEntryReturnsExactlyWhatTheSyscallReturnsAndEachFaultTakesOneFixup() throws {
        let features = CPUFeatures.current
        XCTAssertTrue(features.rdtscp, "the TSC clock and vgetcpu need rdtscp")
        let page = try Vsyscall.install(faultMode: .efault, clockMode: .tsc)
        defer { XCTAssertNoThrow(try page.uninstall()) }
        XCTAssertEqual(page.clockMode, .tsc)
        let before = vu_fixups_taken()
        let faulting = try compareEveryBadPointer(page, entriesStore: { _ in true })
        // 6 stored arguments x 7 kinds, less the 5 that allow NULL; cache never faults.
        XCTAssertEqual(faulting, 37)
        XCTAssertEqual(vu_fixups_taken() - before, 37, "one fixup per faulting store, none for the rest")
        // Still alive, and the page still works after 37 redirected faults.
        var ts = timespec()
        XCTAssertEqual(page.clockGettime(0, &ts), 0)
        XCTAssertLessThanOrEqual(abs(ts.tv_sec - rawSyscall(.time, [0])), 2)
    }

    func testInSyscallClockModeEveryBadPointerStillMatchesTheSyscallAndOnlyGetcpuTakesFixups() throws {
        // The clock entries fall back to the real syscall (which returns -EFAULT without a
        // fault); vgetcpu still stores from rdpid/rdtscp.
        let page = try Vsyscall.install(faultMode: .efault, clockMode: .syscall)
        defer { XCTAssertNoThrow(try page.uninstall()) }
        let before = vu_fixups_taken()
        let faulting = try compareEveryBadPointer(page, entriesStore: { $0 == .getcpu })
        XCTAssertEqual(faulting, 12)  // cpu and node x 7 kinds, less their 2 NULLs
        XCTAssertEqual(vu_fixups_taken() - before, 12)
    }

    func testAStoreBeyondTheEndOfAMappedFileIsSIGBUSAndAlsoBecomesEFAULT() throws {
        // A shared mapping of an empty memfd: the page is mapped, but a store to it is
        // SIGBUS (not SIGSEGV); the fixup handler covers both.
        let fd = vu_memfd_create("vunwind-fault-test")
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        let size = Int(FaultBadPages.page)
        let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        XCTAssertNotEqual(p, MAP_FAILED)
        guard p != MAP_FAILED, let p else { return }
        defer { munmap(p, size) }
        var report = vu_probe_report()
        XCTAssertEqual(vu_probe_store(UInt64(UInt(bitPattern: p)), 1, &report), 0)
        XCTAssertEqual(report.signo, SIGBUS, "the buffer does not give SIGBUS: the test would not test SIGBUS")

        let page = try Vsyscall.install(faultMode: .efault, clockMode: .tsc)
        defer { XCTAssertNoThrow(try page.uninstall()) }
        let before = vu_fixups_taken()
        var stores = 0
        for c in FaultArgumentCase.all where !c.ignored {
            let args = c.arguments(Int(bitPattern: p), 0)
            XCTAssertEqual(rawSyscall(c.entry, args), efault, "\(c.entry.name)(\(c.argument)): the kernel")
            XCTAssertEqual(callEntry(page, c.entry, args), efault, "\(c.entry.name)(\(c.argument)): the entry")
            stores += 1
        }
        XCTAssertEqual(stores, 6)
        XCTAssertEqual(vu_fixups_taken() - before, 6)
    }

    // MARK: B. a fault outside the fixup table kills

    /// Spawns `fixture-vsyscall crash DIR` and returns the raw wait status.
    private func crashFixture(in directory: URL, environment: [String: String]) throws -> (status: Int32, pid: pid_t) {
        let fixture = try Tools.product("fixture-vsyscall")
        let pid = try Spawner.spawn(fixture, ["crash", directory.path], environment: environment)
        var status: Int32 = 0
        let deadline = Date().addingTimeInterval(10)
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { break }
            if r < 0 && errno != EINTR { throw SystemError(call: "waitpid", errno: errno) }
            if Date() > deadline {
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                XCTFail("fixture-vsyscall crash did not end within 10 s")
                break
            }
            usleep(2000)
        }
        return (status, pid)
    }

    private func contents(_ url: URL) -> String { (try? String(contentsOf: url, encoding: .utf8)) ?? "<missing>" }

    /// The status and the core file; returns the stderr text.
    private func assertKilledWithCore(_ directory: URL, status: Int32, pid: pid_t,
                                      file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let signaled = (status & 0x7f) != 0 && (status & 0x7f) != 0x7f
        XCTAssertTrue(signaled, "status 0x\(String(status, radix: 16)): not killed by a signal", file: file, line: line)
        XCTAssertEqual(status & 0x7f, SIGSEGV, "the signal", file: file, line: line)
        XCTAssertNotEqual(status & 0x80, 0, "WCOREDUMP: no core was dumped", file: file, line: line)

        let image = try VsyscallImage(base: Vsyscall.defaultAddress, features: CPUFeatures.current.emitter)
        let stdout = contents(directory.appendingPathComponent("stdout.txt"))
        XCTAssertEqual(stdout, "installed 0x\(String(Vsyscall.defaultAddress, radix: 16)) fixups \(image.fixups.count)\n",
                       file: file, line: line)

        let pattern = contents(URL(fileURLWithPath: "/proc/sys/kernel/core_pattern"))
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        let cores = names.filter { $0 != "stdout.txt" && $0 != "stderr.txt" }
        if pattern.hasPrefix("|") || pattern.contains("/") {
            // Piped to a collector (or written elsewhere): the status is all we can see.
            XCTAssertEqual(cores, [], "core_pattern \(pattern)", file: file, line: line)
        } else {
            var expected = pattern
            if !pattern.contains("%"), contents(URL(fileURLWithPath: "/proc/sys/kernel/core_uses_pid")).hasPrefix("1") {
                expected += ".\(pid)"
            }
            if pattern.contains("%") {
                XCTAssertEqual(cores.count, 1, "core_pattern \(pattern): \(names)", file: file, line: line)
            } else {
                XCTAssertEqual(cores, [expected], "core_pattern \(pattern)", file: file, line: line)
            }
            for core in cores {
                let url = directory.appendingPathComponent(core)
                let header = try Data(contentsOf: url).prefix(18)
                XCTAssertEqual(Array(header.prefix(4)), [0x7f, 0x45, 0x4c, 0x46], "\(core) is not ELF", file: file, line: line)
                XCTAssertEqual(header.count, 18, file: file, line: line)
                if header.count == 18 { XCTAssertEqual(header[16], 4, "e_type is not ET_CORE", file: file, line: line) }
                try FileManager.default.removeItem(at: url)
            }
        }
        return contents(directory.appendingPathComponent("stderr.txt"))
    }

    func testAStoreToAddress8OutsideTheFixupTableStillKillsBySIGSEGVAndDumpsCore() throws {
        let directory = try Tools.temporaryDirectory("vsyscall-crash")
        defer { try? FileManager.default.removeItem(at: directory) }
        // Without the Swift runtime's backtracer the handler before ours is SIG_DFL.
        let (status, pid) = try crashFixture(in: directory, environment: ["SWIFT_BACKTRACE": "enable=no"])
        let stderr = try assertKilledWithCore(directory, status: status, pid: pid)
        XCTAssertEqual(stderr, "")
    }

    func testAStoreToAddress8OutsideTheFixupTableIsPassedToThePreviousHandlerThenKillsWithCore() throws {
        let directory = try Tools.temporaryDirectory("vsyscall-crash")
        defer { try? FileManager.default.removeItem(at: directory) }
        // With the Swift runtime's backtracer (an SA_SIGINFO handler installed before ours)
        // the fault is chained to it: it reports the crash, then the process dies as before.
        let (status, pid) = try crashFixture(in: directory, environment: ["SWIFT_BACKTRACE": "enable=yes,interactive=no"])
        let stderr = try assertKilledWithCore(directory, status: status, pid: pid)
        XCTAssertTrue(stderr.contains("*** Signal 11: Backtracing from"), "the backtracer did not run: \(stderr)")
        XCTAssertFalse(stderr.contains("fixture-vsyscall:"), "the fixture itself complained: \(stderr)")
    }

    // MARK: C. sigsegv mode delivers the fault (in the fixture)

    func testSigsegvModeDeliversSIGSEGVWithSiAddrInsideTheBadBufferForEveryEntryArgumentAndKind() throws {
        let result = try Subprocess.run(try Tools.product("fixture-vsyscall"), ["sigsegv-probe"],
                                        environment: ["SWIFT_BACKTRACE": "enable=no"])
        XCTAssertFalse(result.signaled)
        XCTAssertEqual(result.status, 0)
        XCTAssertEqual(result.stderr, "")
        let now = rawSyscall(.time, [0])
        var lines = result.stdout.split(separator: "\n").map(String.init)
        // sigsegv mode installs no handler (the backtracer is off, so both are SIG_DFL), and
        // no fault went through a fixup.
        XCTAssertEqual(lines.first, "handlers segv=default bus=default")
        XCTAssertEqual(lines.suffix(2), ["fixups-taken 0", "done 49"])
        lines = Array(lines.dropFirst().dropLast(2))
        var expected: [String] = []
        for c in FaultArgumentCase.all { for k in FaultPointerKind.allCases { expected.append("\(c.entry.name) \(c.argument) \(k.rawValue)") } }
        var seen: [String] = []
        var faulted = 0
        for line in lines {
            let f = line.split(separator: " ").map(String.init)
            guard f.count == 10, f[0] == "case" else { XCTFail("unexpected output line: \(line)"); continue }
            var v: [String: String] = [:]
            for field in f[4...] {
                let kv = field.split(separator: "=", maxSplits: 1).map(String.init)
                if kv.count == 2 { v[kv[0]] = kv[1] }
            }
            func number(_ key: String) -> UInt64? {
                guard let s = v[key] else { return nil }
                return s.hasPrefix("0x") ? UInt64(s.dropFirst(2), radix: 16) : UInt64(s)
            }
            guard let c = FaultArgumentCase.all.first(where: { $0.entry.name == f[1] && $0.argument == f[2] }),
                  let kind = FaultPointerKind(rawValue: f[3]),
                  let signal = number("signal"), let code = number("code"), let address = number("addr"),
                  let buffer = number("buffer"), let size = number("size"), let value = v["value"].flatMap({ Int($0) })
            else { XCTFail("unparsable line: \(line)"); continue }
            seen.append("\(f[1]) \(f[2]) \(f[3])")
            XCTAssertEqual(size, UInt64(c.size), line)
            if c.faults(kind) {
                faulted += 1
                XCTAssertEqual(signal, UInt64(SIGSEGV), "\(line): no SIGSEGV")
                XCTAssertEqual(code, UInt64(kind.expectedCode), "\(line): si_code")
                XCTAssertTrue(address >= buffer && address - buffer < size,
                              "\(line): si_addr 0x\(String(address, radix: 16)) is outside [buffer, buffer + \(size))")
                // The exact byte: the buffer's start, or the first byte of the hole.
                let first = kind == .straddle ? buffer + size / 2 : buffer
                XCTAssertEqual(address, first, line)
            } else {
                XCTAssertEqual(signal, 0, "\(line): a store that must not happen faulted")
                if c.entry == .time {
                    XCTAssertLessThanOrEqual(abs(value - now), 2, line)
                } else {
                    XCTAssertEqual(value, 0, line)
                }
            }
        }
        XCTAssertEqual(seen, expected)
        XCTAssertEqual(faulted, 37)
    }
}
