// SecurityTests: the vsyscall page never makes memory writable and executable at once,
// and what readers see of it cannot be written: not the vvar page, not the text, and
// (memfd) not through a second mapping of the sealed file either.

import CVunwind
import Dispatch
import Foundation
import Synchronization
import TestSupport
import Unwind
import Vsyscall
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Reads /proc/self/maps in a tight loop on its own thread until stopped (or a deadline),
/// counting W+X sightings and whether the page at `base` was mapped in each snapshot.
///
/// A sighting must be caught in a window of microseconds, so the loop is fast: one read
/// into a reused buffer and C string scans (strstr), with Unwind's MemoryMap parsing only
/// the lines that matter (a candidate "wx" and the line at `base`).
fileprivate final class MapsWatcher: @unchecked Sendable {
    let base: UInt64
    let deadline: Date
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    // Written by the watcher thread only; read after `finished`.
    private(set) var snapshots = 0
    private(set) var writableExecutable: [String] = []
    private let mapped = Atomic<Int>(0)
    private let unmapped = Atomic<Int>(0)
    /// Snapshots with the page mapped at `base` / without it (readable while watching).
    var mappedSnapshots: Int { mapped.load(ordering: .relaxed) }
    var unmappedSnapshots: Int { unmapped.load(ordering: .relaxed) }
    private(set) var permissionsAtBase: Set<String> = []
    private(set) var errors: [String] = []

    init(base: UInt64, seconds: TimeInterval) {
        self.base = base
        deadline = Date().addingTimeInterval(seconds)
    }

    func start() {
        let thread = Thread { [self] in
            watch()
            finished.signal()
        }
        thread.start()
    }

    func stop() {
        stopping.store(true, ordering: .releasing)
        finished.wait()
    }

    private func watch() {
        let fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { errors.append("open /proc/self/maps: \(errno)"); return }
        defer { close(fd) }
        var capacity = 1 << 20
        var buffer = UnsafeMutablePointer<CChar>.allocate(capacity: capacity + 1)
        defer { buffer.deallocate() }
        let lineStart = "\n\(String(base, radix: 16))-"
        var iteration = 0
        while !stopping.load(ordering: .acquiring) {
            iteration += 1
            if iteration % 64 == 0 && Date() > deadline { break }
            // One snapshot: read from offset 0 to EOF.
            var length = 0
            while true {
                let n = pread(fd, buffer + length, capacity - length, off_t(length))
                if n < 0 { if errno == EINTR { continue }; errors.append("read /proc/self/maps: \(errno)"); return }
                if n == 0 { break }
                length += n
                if length == capacity {
                    let bigger = UnsafeMutablePointer<CChar>.allocate(capacity: 2 * capacity + 1)
                    bigger.update(from: buffer, count: length)
                    buffer.deallocate()
                    buffer = bigger
                    capacity *= 2
                }
            }
            buffer[length] = 0
            snapshots += 1
            // Permissions are "rwxp"-style: any W+X mapping has "wx" in its line.
            if strstr(buffer, "wx") != nil {
                let map = MemoryMap(text: String(cString: buffer))
                for m in map.mappings where m.writable && m.executable {
                    writableExecutable.append("0x\(String(m.start, radix: 16))-0x\(String(m.end, radix: 16)) \(m.permissions) \(m.path)")
                }
            }
            // The page's line may be the first one (it sits below a PIE's load address).
            let found: UnsafeMutablePointer<CChar>? = strncmp(buffer, lineStart.dropFirst().description, lineStart.utf8.count - 1) == 0
                ? buffer - 1 : strstr(buffer, lineStart)
            if let at = found {
                let end = strchr(at + 1, 0x0a) ?? buffer + length
                let line = String(decoding: UnsafeRawBufferPointer(start: at + 1, count: end - (at + 1)), as: UTF8.self)
                if let m = MemoryMap(text: line).mappings.first, m.start == base {
                    mapped.add(1, ordering: .relaxed)
                    permissionsAtBase.insert(m.permissions)
                } else {
                    errors.append("unparsable line: \(line)")
                }
            } else {
                unmapped.add(1, ordering: .relaxed)
            }
        }
    }
}

/// The mapping of this process that contains `address`.
fileprivate func mapping(containing address: UInt64) throws -> MemoryMapping? {
    try MemoryMap.read().mapping(containing: address)
}

/// Opens the file behind the mapping through /proc/self/map_files/START-END.
fileprivate func openMapFile(_ m: MemoryMapping, _ flags: Int32) throws -> Int32 {
    let path = "/proc/self/map_files/\(String(m.start, radix: 16))-\(String(m.end, radix: 16))"
    let fd = open(path, flags | O_CLOEXEC)
    guard fd >= 0 else { throw SystemError(call: "open \(path)", errno: errno) }
    return fd
}

final class SecurityTests: XCTestCase {
    // MARK: D1. never writable and executable at once

    /// The detector works: a W+X mapping, when there is one, is seen.
    private func assertDetectorSeesWritableExecutable() throws {
        let p = mmap(nil, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard p != MAP_FAILED else {
            // A kernel or policy that refuses W+X outright: nothing to check the detector with.
            XCTAssertEqual(errno, EACCES)
            return
        }
        defer { munmap(p, 4096) }
        XCTAssertTrue(try MemoryMap.read().hasWritableExecutableMapping, "the detector missed a W+X mapping")
    }

    private func assertNeverWritableAndExecutable(_ kind: MappingKind, cycles: Int = 200,
                                                  file: StaticString = #filePath, line: UInt = #line) throws {
        try assertDetectorSeesWritableExecutable()
        XCTAssertFalse(try MemoryMap.read().hasWritableExecutableMapping, "W+X before the test began", file: file, line: line)
        let watcher = MapsWatcher(base: Vsyscall.defaultAddress, seconds: 15)
        watcher.start()
        var tv = timeval(), tz = timezone(), t = 0, cpu: UInt32 = 0, node: UInt32 = 0, ts = timespec()
        var failures = 0
        var done = 0
        // At least `cycles`, and on until the watcher has seen the page both mapped and not
        // (a starved watcher thread on a busy machine), within its deadline.
        while done < cycles || ((watcher.mappedSnapshots == 0 || watcher.unmappedSnapshots == 0) && Date() < watcher.deadline) {
            done += 1
            let page = try Vsyscall.install(tick: .microseconds(100), mapping: kind)
            defer { XCTAssertNoThrow(try page.uninstall(), file: file, line: line) }
            var ok = page.gettimeofday(&tv, &tz) == 0
            ok = ok && page.time(&t) == t && t > 1_700_000_000
            ok = ok && page.getcpu(&cpu, &node, nil) == 0
            ok = ok && page.clockGettime(1, &ts) == 0
            if !ok { failures += 1 }
        }
        watcher.stop()
        XCTAssertEqual(failures, 0, "entry calls failed", file: file, line: line)
        XCTAssertEqual(watcher.errors, [], file: file, line: line)
        XCTAssertEqual(watcher.writableExecutable, [], "W+X mappings seen", file: file, line: line)
        // Proof the watcher looked while the page came and went.
        XCTAssertGreaterThan(watcher.mappedSnapshots, 0, "never saw the page mapped in \(watcher.snapshots) snapshots",
                             file: file, line: line)
        XCTAssertGreaterThan(watcher.unmappedSnapshots, 0, file: file, line: line)
        // The text (at base) is only ever read+exec; with anonymous memory it is read+write
        // (not exec) while the image is copied in.
        let share = kind == .privateAnonymous || kind == .memfdPrivate ? "p" : "s"
        let allowed: Set<String> = kind == .memfd || kind == .memfdPrivate ? ["r-x" + share] : ["r-x" + share, "rw-" + share]
        XCTAssertTrue(watcher.permissionsAtBase.isSubset(of: allowed), "\(watcher.permissionsAtBase)", file: file, line: line)
        XCTAssertTrue(watcher.permissionsAtBase.contains("r-x" + share), file: file, line: line)
        print("W^X watch (\(kind.rawValue)): \(done) cycles, \(watcher.snapshots) snapshots, \(watcher.mappedSnapshots) with the page, "
              + "permissions at base \(watcher.permissionsAtBase.sorted())")
    }

    // A watcher thread samples /proc/self/maps: what it proves is that no snapshot showed
    // W+X, not that no such moment ever was. The strace test below proves "never".
    func testNoMapsSnapshotShowsAWritableExecutableMappingAcross200InstallCallUninstallCyclesWithMemfd() throws {
        try assertNeverWritableAndExecutable(.memfd)
    }

    func testNoMapsSnapshotShowsAWritableExecutableMappingAcross200InstallCallUninstallCyclesWithSharedAnonymous() throws {
        try assertNeverWritableAndExecutable(.sharedAnonymous)
    }

    func testNoMapsSnapshotShowsAWritableExecutableMappingAcross200InstallCallUninstallCyclesWithMemfdPrivate() throws {
        try assertNeverWritableAndExecutable(.memfdPrivate)
    }

    func testNoMapsSnapshotShowsAWritableExecutableMappingAcross200InstallCallUninstallCyclesWithPrivateAnonymous() throws {
        try assertNeverWritableAndExecutable(.privateAnonymous)
    }

    /// Never, judged by strace: a mapping is writable and executable only if some mmap,
    /// mprotect or pkey_mprotect asked for PROT_WRITE and PROT_EXEC together (each sets the
    /// whole range's protection; mremap keeps it). In a C program doing 200 install and
    /// uninstall cycles with every registrar, in each mapping kind, no call of any thread
    /// asks for both, and the log holds every cycle's mapping of the page.
    func testNoMmapOrMprotectCallOfAnyThreadAsksForWriteAndExecuteAcross200CyclesInEachMappingKindUnderStrace() throws {
        let dir = try Tools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let program = try FixturePrograms.build("churn.c", in: dir)
        /// The mmap/mprotect/pkey_mprotect lines of a log that ask for write and execute.
        func writableExecutable(_ lines: [Substring]) -> [Substring] {
            lines.filter { line in
                guard let open = line.firstIndex(of: "("),
                      ["mmap", "mprotect", "pkey_mprotect"].contains(where: { line[..<open].hasSuffix($0) }) else { return false }
                // The protection is the third argument of all three.
                let args = line[line.index(after: open)...].split(separator: ",", maxSplits: 3)
                return args.count >= 3 && args[2].contains("PROT_WRITE") && args[2].contains("PROT_EXEC")
            }
        }
        // The control: a program that does map W+X is caught by the same reading of the log.
        let control = dir.appendingPathComponent("strace-control.log").path
        let c = try Subprocess.run(try Tools.path("strace"), ["-f", "-qq", "-e", "trace=mmap,mprotect", "-o", control,
                                                              "/usr/bin/python3", "-c", "import mmap; mmap.mmap(-1, 4096, prot=7)"])
        XCTAssertEqual(c.status, 0, c.stderr)
        XCTAssertEqual(writableExecutable(try String(contentsOfFile: control, encoding: .utf8).split(separator: "\n")).count, 1)
        for kind in MappingKind.allCases {
            let log = dir.appendingPathComponent("strace-\(kind.rawValue).log").path
            let r = try Subprocess.run(try Tools.path("strace"),
                                       ["-f", "-qq", "-e", "trace=mmap,mprotect,pkey_mprotect,mremap", "-o", log, program, "200", "50"],
                                       environment: ["SWIFT_BACKTRACE": "enable=no", "VUNWIND_VSYSCALL_MAPPING": kind.rawValue,
                                                     "VUNWIND_PERF_MAP": "remove"])
            XCTAssertEqual(r.status, 0, "\(kind.rawValue): \(r.stderr)")
            let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
            XCTAssertEqual(writableExecutable(lines), [], kind.rawValue)
            let calls = lines.filter { $0.contains("mmap(") || $0.contains("mprotect(") }.count
            // 200 cycles and the final install each map the page at its address.
            let pageMaps = lines.filter { $0.contains("mmap(0x550000000000,") }.count
            XCTAssertEqual(pageMaps, 201, "\(kind.rawValue): the page's mappings in the log")
            XCTAssertGreaterThan(calls, 600, kind.rawValue)
        }
    }

    // MARK: D2, D3. stores to what readers see fault

    private func assertStoreFaults(_ address: UInt64, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        var r = vu_probe_report()
        XCTAssertEqual(vu_probe_store(address, 0x5a, &r), 0, file: file, line: line)
        XCTAssertEqual(r.signaled, 1, "a store to \(what) at 0x\(String(address, radix: 16)) did not fault", file: file, line: line)
        XCTAssertEqual(r.signo, SIGSEGV, what, file: file, line: line)
        XCTAssertEqual(r.code, 2, "\(what): si_code is not SEGV_ACCERR (mapped, not writable)", file: file, line: line)
        XCTAssertEqual(r.address, address, "\(what): si_addr", file: file, line: line)
    }

    func testAStoreToTheReadersVvarMappingFaults() throws {
        for kind in MappingKind.allCases {
            let page = try Vsyscall.install(mapping: kind)
            defer { XCTAssertNoThrow(try page.uninstall()) }
            let vvar = UInt64(UInt(bitPattern: page.vvar))
            XCTAssertEqual(vvar, page.base + 0x2000)
            XCTAssertEqual(try mapping(containing: vvar)?.permissions, "r--s")
            let before = page.vvar.load(fromByteOffset: VvarLayout.timezoneMinutesWest, as: UInt32.self)
            assertStoreFaults(vvar, "the vvar page (\(kind.rawValue))")
            assertStoreFaults(vvar + UInt64(VvarLayout.timezoneMinutesWest), "the vvar timezone (\(kind.rawValue))")
            XCTAssertEqual(page.vvar.load(fromByteOffset: VvarLayout.timezoneMinutesWest, as: UInt32.self), before)
            // The probe put the EFAULT handler back: the entries still turn a bad pointer into -EFAULT.
            XCTAssertEqual(page.clockGettime(0, nil), -Int(EFAULT))
        }
    }

    func testAStoreToTheTextOrTheHeaderPageFaults() throws {
        for kind in MappingKind.allCases {
            let page = try Vsyscall.install(mapping: kind)
            defer { XCTAssertNoThrow(try page.uninstall()) }
            // The private kinds (anonymous, as most JITs map code, and the private memfd) are
            // copy-on-write only for a debugger's forced write: a store of the program faults.
            let isPrivate = kind == .privateAnonymous || kind == .memfdPrivate
            XCTAssertEqual(try mapping(containing: page.base + 0x1000)?.permissions, isPrivate ? "r-xp" : "r-xs")
            assertStoreFaults(page.base + 0x1000, "the text (\(kind.rawValue))")
            assertStoreFaults(page.image.entry(.clockGettime).address, "vclock_gettime (\(kind.rawValue))")
            assertStoreFaults(page.base, "the ELF header (\(kind.rawValue))")
            var ts = timespec()
            XCTAssertEqual(page.clockGettime(0, &ts), 0)
        }
    }

    // MARK: D4. the sealed memfd cannot be written another way

    func testTheSealedMemfdTextCannotBeWrittenThroughANewMappingPwriteOrMprotect() throws {
        let page = try Vsyscall.install(mapping: .memfd)
        defer { XCTAssertNoThrow(try page.uninstall()) }
        let text = try XCTUnwrap(try mapping(containing: page.base + 0x1000))
        XCTAssertEqual(text.start, page.base)
        XCTAssertEqual(text.end, page.base + VsyscallImage.imageSize)
        XCTAssertTrue(text.path.hasPrefix("/memfd:vunwind-vsyscall"), text.path)
        let fd = try openMapFile(text, O_RDWR)
        defer { close(fd) }

        let seals = vu_get_seals(fd)
        XCTAssertEqual(seals, Int32(VU_F_SEAL_WRITE | VU_F_SEAL_GROW | VU_F_SEAL_SHRINK | VU_F_SEAL_SEAL))

        errno = 0
        let writable = mmap(nil, Int(VsyscallImage.imageSize), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        XCTAssertEqual(writable, MAP_FAILED, "a writable shared mapping of the sealed text was allowed")
        if writable == MAP_FAILED { XCTAssertEqual(errno, EPERM) } else { munmap(writable, Int(VsyscallImage.imageSize)) }

        var byte: UInt8 = 0xcc
        errno = 0
        XCTAssertEqual(pwrite(fd, &byte, 1, off_t(VsyscallImage.textOffset)), -1, "pwrite into the sealed text succeeded")
        XCTAssertEqual(errno, EPERM)

        // Nor can the existing mapping be made writable.
        errno = 0
        XCTAssertEqual(mprotect(UnsafeMutableRawPointer(bitPattern: UInt(page.base)), Int(VsyscallImage.imageSize),
                                PROT_READ | PROT_WRITE), -1, "mprotect made the sealed text writable")
        XCTAssertEqual(errno, EACCES)
        XCTAssertEqual(try mapping(containing: page.base + 0x1000)?.permissions, "r-xs")

        // No seal can be removed or added any more (F_SEAL_SEAL).
        errno = 0
        XCTAssertEqual(vu_add_seals(fd, Int32(VU_F_SEAL_WRITE)), -1)
        XCTAssertEqual(errno, EPERM)

        // And the page still runs.
        var ts = timespec()
        XCTAssertEqual(page.clockGettime(0, &ts), 0)
    }

    func testTheSharedAnonymousTextFaultsOnAStoreButIsNotSealedSoANewWritableMappingIsAllowed() throws {
        let page = try Vsyscall.install(mapping: .sharedAnonymous)
        defer { XCTAssertNoThrow(try page.uninstall()) }
        let text = try XCTUnwrap(try mapping(containing: page.base + 0x1000))
        XCTAssertEqual(text.start, page.base)
        XCTAssertEqual(text.permissions, "r-xs")
        XCTAssertTrue(text.path.hasPrefix("/dev/zero"), text.path)
        assertStoreFaults(page.base + 0x1000, "the shared anonymous text")

        // No write seal: the protection is only the mapping's permissions. A second, writable
        // (not executable) mapping of the same memory can be made by whoever can open
        // /proc/PID/map_files (CAP_SYS_ADMIN).
        let fd = try openMapFile(text, O_RDWR)
        defer { close(fd) }
        XCTAssertEqual(vu_get_seals(fd) & Int32(VU_F_SEAL_WRITE), 0)
        let writable = mmap(nil, Int(VsyscallImage.imageSize), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        XCTAssertNotEqual(writable, MAP_FAILED, "mmap: \(String(cString: strerror(errno)))")
        if writable != MAP_FAILED { munmap(writable, Int(VsyscallImage.imageSize)) }
    }
}
