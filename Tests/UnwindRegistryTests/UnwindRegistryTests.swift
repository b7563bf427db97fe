// UnwindRegistry: the order and once-only rule of registration, its errors, its thread
// safety, and that each real registrar makes its real consumer (libgcc, nongnu libunwind,
// gdb's JIT list, perf's map file) find the page and then forget it. The consumers are
// asked through Consumers (TestSupport), which reads the libraries' own state.
//
// The order tests use a registrar that records calls: what they test is the registry's
// bookkeeping, not a consumer.

import CVunwind
import Foundation
import Locking
import TestSupport
import UnwindRegistry
import Vsyscall
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Records every call, in order, into a log shared by the registrars of one test; fails
/// when told to.
fileprivate final class RecordingRegistrar: UnwindRegistrar {
    let kind: RegistrarKind
    let log: Log
    let failRegister: Bool
    let failDeregister: Bool

    init(_ kind: RegistrarKind, log: Log, failRegister: Bool = false, failDeregister: Bool = false) {
        self.kind = kind
        self.log = log
        self.failRegister = failRegister
        self.failDeregister = failDeregister
    }

    func register(_ image: RegisteredImage) throws {
        log.append("+\(kind.rawValue)")
        if failRegister { throw RegistrationError(kind, "refused") }
    }

    func deregister(_ image: RegisteredImage) throws {
        log.append("-\(kind.rawValue)")
        if failDeregister { throw RegistrationError(kind, "cannot forget") }
    }
}

fileprivate final class Log: Sendable {
    let entries = Locked<[String]>([])
    var all: [String] { entries.withLock { $0 } }
    func append(_ s: String) { entries.withLock { $0.append(s) } }
    func clear() { entries.withLock { $0.removeAll() } }
}

fileprivate func image(at address: UInt64, symbols: Int = 1) -> RegisteredImage {
    RegisteredImage(name: "test-image", imageAddress: address, imageSize: 0x2000, ehFrameAddress: address + 0x800,
                    ehFrameHeaderAddress: address + 0x700, fdeCount: symbols, code: (address + 0x1000)..<(address + 0x2000),
                    symbols: (0..<symbols).map { .init(name: "f\($0)_\(String(address, radix: 16))",
                                                       address: address + 0x1000 + UInt64($0) * 0x40, size: 0x40) })
}

final class UnwindRegistryTests: XCTestCase {
    // MARK: order, once, errors (the registry's own bookkeeping)

    func testRegistrationRunsInOrderAndDeregistrationNewestFirstExactlyOnce() throws {
        let log = Log()
        let registry = UnwindRegistry(registrars: [RecordingRegistrar(.libgcc, log: log),
                                                   RecordingRegistrar(.libunwind, log: log),
                                                   RecordingRegistrar(.gdb, log: log),
                                                   RecordingRegistrar(.perf, log: log)])
        let i = image(at: 0x7000_0000_0000)
        XCTAssertFalse(registry.isRegistered(i))
        try registry.register(i)
        XCTAssertTrue(registry.isRegistered(i))
        try registry.deregister(i)
        XCTAssertFalse(registry.isRegistered(i))
        XCTAssertEqual(log.all, ["+libgcc", "+libunwind", "+gdb", "+perf", "-perf", "-gdb", "-libunwind", "-libgcc"])
        // A second deregistration is an error and reaches no registrar.
        XCTAssertThrowsError(try registry.deregister(i)) {
            XCTAssertEqual("\($0)", "test-image at 0x700000000000 is not registered")
        }
        XCTAssertEqual(log.all.count, 8)
    }

    func testRegisteringTheSameImageTwiceIsAnErrorAndReachesNoRegistrar() throws {
        let log = Log()
        let registry = UnwindRegistry(registrars: [RecordingRegistrar(.gdb, log: log)])
        let i = image(at: 0x7000_0000_0000)
        try registry.register(i)
        XCTAssertThrowsError(try registry.register(i)) {
            XCTAssertEqual("\($0)", "test-image at 0x700000000000 is already registered")
            XCTAssertEqual($0 as? RegistrationError, RegistrationError(nil, "test-image at 0x700000000000 is already registered"))
        }
        XCTAssertEqual(log.all, ["+gdb"])
        try registry.deregister(i)
        XCTAssertEqual(log.all, ["+gdb", "-gdb"])
    }

    func testARegistrarThatFailsMidwayHasTheOnesBeforeItRolledBackNewestFirstAndItsErrorThrown() throws {
        let log = Log()
        let registry = UnwindRegistry(registrars: [RecordingRegistrar(.libgcc, log: log),
                                                   RecordingRegistrar(.libunwind, log: log),
                                                   RecordingRegistrar(.gdb, log: log, failRegister: true),
                                                   RecordingRegistrar(.perf, log: log)])
        let i = image(at: 0x7000_0000_0000)
        XCTAssertThrowsError(try registry.register(i)) { XCTAssertEqual("\($0)", "gdb: refused") }
        // gdb itself failed, so it is not taken back; perf was never reached.
        XCTAssertEqual(log.all, ["+libgcc", "+libunwind", "+gdb", "-libunwind", "-libgcc"])
        XCTAssertFalse(registry.isRegistered(i))
    }

    func testDeregistrationTriesEveryRegistrarAndThrowsTheFirstFailure() throws {
        let log = Log()
        let registry = UnwindRegistry(registrars: [RecordingRegistrar(.libgcc, log: log, failDeregister: true),
                                                   RecordingRegistrar(.libunwind, log: log),
                                                   RecordingRegistrar(.gdb, log: log, failDeregister: true)])
        let i = image(at: 0x7000_0000_0000)
        try registry.register(i)
        log.clear()
        XCTAssertThrowsError(try registry.deregister(i)) { XCTAssertEqual("\($0)", "gdb: cannot forget") }
        XCTAssertEqual(log.all, ["-gdb", "-libunwind", "-libgcc"])
        XCTAssertFalse(registry.isRegistered(i), "a failed deregistration still forgets the image: no second attempt")
    }

    func testTheRegistrarsForASetComeInTheFixedOrderLibgccLibunwindGdbPerf() throws {
        XCTAssertEqual(try UnwindRegistry.registrars(for: [.perf, .gdb, .libgcc, .libunwind]).map(\.kind),
                       [.libgcc, .libunwind, .gdb, .perf])
        XCTAssertEqual(try UnwindRegistry.registrars(for: [.perf, .libgcc]).map(\.kind), [.libgcc, .perf])
        XCTAssertEqual(try UnwindRegistry.registrars(for: []).map(\.kind), [])
    }

    // MARK: thread safety

    func testEightThreadsRegisteringTheSameImageAtOnceSucceedExactlyOnce() throws {
        let log = Log()
        let registry = UnwindRegistry(registrars: [RecordingRegistrar(.libgcc, log: log),
                                                   RecordingRegistrar(.perf, log: log)])
        let i = image(at: 0x7000_0000_0000)
        let outcomes = Locked<[String]>([])
        for _ in 0..<200 {
            outcomes.withLock { $0.removeAll() }
            DispatchQueue.concurrentPerform(iterations: 8) { _ in
                let outcome: String
                do { try registry.register(i); outcome = "ok" } catch { outcome = "\(error)" }
                outcomes.withLock { $0.append(outcome) }
            }
            let all = outcomes.withLock { $0 }
            XCTAssertEqual(all.filter { $0 == "ok" }.count, 1, "\(all)")
            XCTAssertEqual(all.filter { $0 == "test-image at 0x700000000000 is already registered" }.count, 7, "\(all)")
            try registry.deregister(i)
        }
        // Each round: one registration and one deregistration, in order, never interleaved.
        XCTAssertEqual(log.all, Array(repeating: ["+libgcc", "+perf", "-perf", "-libgcc"], count: 200).flatMap { $0 })
    }

    func testEightThreadsRegisteringDistinctImagesWithOnePerfMapLoseNoLineAndLeaveNoFile() throws {
        let dir = try Tools.temporaryDirectory("vunwind-registry")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("perf-test.map").path
        let registry = UnwindRegistry(registrars: [PerfMapRegistrar(path: path, keepsLines: false)])
        let images = (0..<400).map { image(at: 0x7000_0000_0000 + UInt64($0) * 0x10000, symbols: 3) }
        DispatchQueue.concurrentPerform(iterations: 8) { t in
            for n in stride(from: t, to: images.count, by: 8) { try? registry.register(images[n]) }
        }
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        let expected = images.flatMap { i in i.symbols.map { "\(String($0.address, radix: 16)) 40 \($0.name)" } }
        XCTAssertEqual(lines.count, 1200)
        XCTAssertEqual(Set(lines), Set(expected), "every line whole, none lost or torn")
        // Deregister half concurrently: exactly the other half's lines remain.
        DispatchQueue.concurrentPerform(iterations: 8) { t in
            for n in stride(from: t, to: 200, by: 8) { try? registry.deregister(images[n]) }
        }
        let left = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(Set(left), Set(images[200...].flatMap { i in i.symbols.map { "\(String($0.address, radix: 16)) 40 \($0.name)" } }))
        XCTAssertEqual(left.count, 600)
        DispatchQueue.concurrentPerform(iterations: 8) { t in
            for n in stride(from: 200 + t, to: 400, by: 8) { try? registry.deregister(images[n]) }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path), "the map file is removed with its last line")
    }

    // MARK: perf map shared with other JITs

    func testThePerfMapKeepsAnotherJITsLinesAndTakesBackExactlyOurs() throws {
        let dir = try Tools.temporaryDirectory("vunwind-registry")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("perf-test.map").path
        let foreign = "7f0000001000 20 other_jit_function\n7f0000002000 10 f0_700000000000\n"
        try foreign.write(toFile: path, atomically: false, encoding: .utf8)
        let perf = PerfMapRegistrar(path: path, keepsLines: false)
        let i = image(at: 0x7000_0000_0000, symbols: 2)
        try perf.register(i)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8),
                       foreign + "700000001000 40 f0_700000000000\n700000001040 40 f1_700000000000\n")
        XCTAssertThrowsError(try perf.register(i)) { XCTAssertEqual("\($0)", "perf: image at 0x700000000000 is already registered") }
        try perf.deregister(i)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), foreign,
                       "the other JIT's lines, even one with the same name as ours, stay")
        XCTAssertThrowsError(try perf.deregister(i)) { XCTAssertEqual("\($0)", "perf: image at 0x700000000000 is not registered") }
    }

    func testThePerfRegistrarNamesTheFileItCannotCreate() throws {
        let perf = PerfMapRegistrar(path: "/nonexistent-vunwind-dir/perf-1.map")
        XCTAssertThrowsError(try perf.register(image(at: 0x7000_0000_0000))) {
            XCTAssertEqual("\($0)", "perf: cannot create /nonexistent-vunwind-dir/perf-1.map: No such file or directory")
        }
        // A failed registration leaves nothing to deregister.
        XCTAssertThrowsError(try perf.deregister(image(at: 0x7000_0000_0000)))
    }

    // MARK: the real consumers

    /// perf is the exception by design: its map keeps the lines for `perf report`, which
    /// reads them after the process is gone (earlier tests in this process may have left
    /// the same four lines: they are never repeated).
    func testEveryRealConsumerFindsTheInstalledPageAndAllButPerfForgetItAtUninstall() throws {
        let before = try Consumers.libunwindDynamicStarts() ?? []
        XCTAssertEqual(vu_jit_entry_count(), 0)

        let page = try Vsyscall.install()
        var installed = true
        defer { if installed { try? page.uninstall() } }
        XCTAssertEqual(page.registrars, [.libgcc, .libunwind, .gdb, .perf])
        // libgcc: each entry's FDE, found from an address inside the entry.
        for entry in page.image.entries {
            XCTAssertEqual(try Consumers.libgccFunctionStart(for: entry.address + 2), entry.address, entry.kind.name)
        }
        // libunwind: one dynamic-info entry over the text.
        XCTAssertEqual(try Consumers.libunwindDynamicStarts(), before + [0x5500_0000_1000])
        // gdb: one JIT entry.
        XCTAssertEqual(vu_jit_entry_count(), 1)
        // perf: one line per entry, address and size in hex.
        XCTAssertEqual(Consumers.perfMapLines(), ["550000001000 \(String(page.image.entry(.gettimeofday).size, radix: 16)) vgettimeofday",
                                                  "550000001400 \(String(page.image.entry(.time).size, radix: 16)) vtime",
                                                  "550000001800 \(String(page.image.entry(.getcpu).size, radix: 16)) vgetcpu",
                                                  "550000001c00 \(String(page.image.entry(.clockGettime).size, radix: 16)) vclock_gettime"])

        try page.uninstall()
        installed = false
        XCTAssertNil(try Consumers.libgccFunctionStart(for: 0x5500_0000_1002), "libgcc still has the page's FDEs")
        XCTAssertEqual(try Consumers.libunwindDynamicStarts() ?? [], before)
        XCTAssertEqual(vu_jit_entry_count(), 0)
        XCTAssertEqual(Consumers.perfMapLines()?.count, 4, "the perf map keeps the page's lines for perf report")
    }

    func testByDefaultDeregistrationLeavesTheLinesForPerfReportAndRegisteringAgainDoesNotRepeatThem() throws {
        let dir = try Tools.temporaryDirectory("vunwind-registry")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("perf-test.map").path
        let perf = PerfMapRegistrar(path: path)
        XCTAssertTrue(perf.keepsLines)
        let i = image(at: 0x7000_0000_0000, symbols: 2)
        let lines = "700000001000 40 f0_700000000000\n700000001040 40 f1_700000000000\n"
        try perf.register(i)
        try perf.deregister(i)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), lines)
        try perf.register(i)
        try perf.deregister(i)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), lines, "the same lines, once")
    }

    func testVUNWIND_PERF_MAPRemoveInTheEnvironmentTurnsRemovalBackOn() throws {
        let saved = getenv("VUNWIND_PERF_MAP").map { String(cString: $0) }
        defer { if let saved { setenv("VUNWIND_PERF_MAP", saved, 1) } else { unsetenv("VUNWIND_PERF_MAP") } }
        setenv("VUNWIND_PERF_MAP", "remove", 1)
        XCTAssertFalse(PerfMapRegistrar().keepsLines)
        XCTAssertTrue(PerfMapRegistrar(keepsLines: true).keepsLines, "an explicit choice wins")
        setenv("VUNWIND_PERF_MAP", "keep", 1)
        XCTAssertTrue(PerfMapRegistrar().keepsLines)
    }

    func testInstallWithASubsetOfRegistrarsTellsThoseConsumersOnly() throws {
        let page = try Vsyscall.install(registrars: [.perf, .gdb])
        defer { try? page.uninstall() }
        XCTAssertEqual(page.registrars, [.gdb, .perf])
        XCTAssertEqual(vu_jit_entry_count(), 1)
        XCTAssertEqual(Consumers.perfMapLines()?.count, 4)
        XCTAssertNil(try Consumers.libgccFunctionStart(for: 0x5500_0000_1002), "libgcc was not told")
        XCTAssertFalse((try Consumers.libunwindDynamicStarts() ?? []).contains(0x5500_0000_1000), "libunwind was not told")
    }

    func testRegisteringAnInstalledPageAgainIsAnErrorAndChangesNoConsumer() throws {
        let page = try Vsyscall.install()
        defer { try? page.uninstall() }
        XCTAssertThrowsError(try page.registry.register(page.image.registeredImage)) {
            XCTAssertEqual("\($0)", "vunwind-vsyscall at 0x550000000000 is already registered")
        }
        XCTAssertEqual(vu_jit_entry_count(), 1)
        XCTAssertEqual(Consumers.perfMapLines()?.count, 4)
        XCTAssertEqual((try Consumers.libunwindDynamicStarts() ?? []).filter { $0 == 0x5500_0000_1000 }.count, 1)
    }

    // MARK: explicit binding (FIELD-NOTES: libunwind.so.8 exports _Unwind_* too)

    func testTheLibgccRegistrarBindsLibgccS() throws {
        let libgcc = try LibgccRegistrar()
        XCTAssertEqual(libgcc.libraryPath.map { URL(fileURLWithPath: $0).lastPathComponent }, "libgcc_s.so.1")
    }

    // Not in this process: the test bundle links libunwind-ptrace, which pulls
    // libunwind.so.8 in ahead of libgcc_s, so here the global _Unwind_RaiseException is
    // already libunwind's (the very trap FIELD-NOTES describes). fixture-vsyscall links
    // neither; installing there must leave throws with libgcc.
    func testInstallingWithLibunwindRegistrationLeavesTheProcesssGlobalUnwindRaiseExceptionInLibgcc() throws {
        let r = try Subprocess.run(try Tools.product("fixture-vsyscall"), ["binding"], environment: ["SWIFT_BACKTRACE": "enable=no"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 3, r.stdout)
        XCTAssertEqual(lines.first.map { URL(fileURLWithPath: String($0.dropFirst(7))).lastPathComponent }, "libgcc_s.so.1", r.stdout)
        XCTAssertEqual(lines.dropFirst().first, "registrars libgcc libunwind gdb perf")
        XCTAssertEqual(lines.last.map { URL(fileURLWithPath: String($0.dropFirst(6))).lastPathComponent }, "libgcc_s.so.1", r.stdout)
    }
}
