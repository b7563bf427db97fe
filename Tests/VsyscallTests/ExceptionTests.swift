// ExceptionTests: a C++ exception thrown from a SIGSEGV handler unwinds from the signal
// frame, through the vsyscall entry that faulted (sigsegv fault mode, bad pointer), to the
// caller's catch, with the caller's callee-saved registers intact, whichever unwinder the
// process's libstdc++ binds: libgcc (built normally) or nongnu libunwind (libunwind.so.8
// first on the link line). The fixture is fixtures/programs/exception_probe.cc, compiled
// here, spawned (never in the test process: it throws through signal frames).
//
// Proof of which unwinder ran: the probe's dladdr of _Unwind_RaiseException, and
// LD_DEBUG=bindings showing libstdc++'s own binding of it. Proof that registration is what
// makes it right: the same binary, with every registrar but that unwinder's, ends in
// std::terminate (measured: for both unwinders; libunwind's _Unwind_RaiseException needs
// unw_get_proc_info for every frame, so its frame-pointer fallback never gets a catch to a
// wrong-register landing), and each unwinder ignores the other's registration.

import Foundation
import TestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class ExceptionTests: XCTestCase {
    static let entries = ["vgettimeofday", "vtime", "vgetcpu", "vclock_gettime"]
    static let environment = ["SWIFT_BACKTRACE": "enable=no"]

    /// The link line that makes nongnu libunwind's _Unwind_* win: libunwind.so.8 must be the
    /// first DT_NEEDED, ahead of libstdc++ and libgcc_s. gcc on Debian 12 links with
    /// --as-needed, which drops a bare `-lunwind` placed before the sources (nothing
    /// references it yet), so it goes in with --no-as-needed.
    static let libunwindFirst = ["-Wl,--push-state,--no-as-needed", "-lunwind", "-Wl,--pop-state"]

    enum Build: String { case libgcc, libunwind, staticLibgcc = "static-libgcc" }

    nonisolated(unsafe) private static var directory: URL?
    nonisolated(unsafe) private static var built: [Build: String] = [:]

    override class func tearDown() {
        if let directory { try? FileManager.default.removeItem(at: directory) }
        directory = nil
        built = [:]
        super.tearDown()
    }

    /// exception_probe built normally or with libunwind first (once per run).
    private func probe(_ build: Build, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        if let path = Self.built[build] { return path }
        if Self.directory == nil { Self.directory = try Tools.temporaryDirectory("vunwind-exceptions") }
        let path = try FixturePrograms.build("exception_probe.cc", name: "exception_probe-\(build.rawValue)", language: .cxx,
                                             in: Self.directory!, before: build == .libunwind ? Self.libunwindFirst : [],
                                             after: build == .staticLibgcc ? ["-static-libgcc", "-static-libstdc++"] : [],
                                             file: file, line: line)
        Self.built[build] = path
        return path
    }

    private func run(_ program: String, registrars: Int, environment extra: [String: String] = [:]) throws -> ProcessResult {
        try Subprocess.run(program, [String(registrars)], environment: Self.environment.merging(extra) { $1 })
    }

    /// The probe's report: every entry caught, no wrong register, exit 0, the unwinder named.
    private func assertEveryEntryCaught(_ r: ProcessResult, unwinder library: String, _ context: String,
                                        file: StaticString = #filePath, line: UInt = #line) {
        let expected = ["unwinder /lib/x86_64-linux-gnu/\(library)"] + Self.entries.map { "caught \($0)" }
        XCTAssertFalse(r.signaled, "\(context): killed by signal \(r.status)\n\(r.stderr)", file: file, line: line)
        XCTAssertEqual(r.status, 0, "\(context)\n\(r.stdout)\(r.stderr)", file: file, line: line)
        // "caught ENTRY" alone means all five sentinels (rbx, r12-r15) came back.
        XCTAssertEqual(r.stdout.split(separator: "\n").map(String.init), expected, context, file: file, line: line)
    }

    /// The process ended in std::terminate at the first throw: SIGABRT, libstdc++'s verbose
    /// terminate handler on stderr, no entry caught.
    private func assertTerminated(_ r: ProcessResult, unwinder library: String, _ context: String,
                                  file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(r.signaled, "\(context): not killed by a signal (status \(r.status))\n\(r.stdout)", file: file, line: line)
        XCTAssertEqual(r.status, SIGABRT, context, file: file, line: line)
        XCTAssertEqual(r.stderr, "terminate called after throwing an instance of 'VsyscallFault'\n", context,
                       file: file, line: line)
        XCTAssertEqual(r.stdout, "unwinder /lib/x86_64-linux-gnu/\(library)\n", context, file: file, line: line)
    }

    /// libstdc++'s own binding of _Unwind_RaiseException (made at the first throw), from
    /// LD_DEBUG=bindings.
    private func libstdcxxBinding(_ program: String, registrars: Int) throws -> [String] {
        let r = try run(program, registrars: registrars, environment: ["LD_DEBUG": "bindings"])
        return r.stderr.split(separator: "\n").map(String.init).filter {
            $0.contains("binding file /lib/x86_64-linux-gnu/libstdc++.so.6 ") && $0.contains("`_Unwind_RaiseException'")
        }.map { line in
            // "  PID:\tbinding file A [0] to B [0]: normal symbol `S' [GCC_3.0]" -> "to B"
            String(line[line.range(of: " to ")!.upperBound...].prefix { $0 != " " })
        }
    }

    private func neededLibraries(_ program: String) throws -> [String] {
        let r = try Subprocess.run(try Tools.path("readelf"), ["-d", program])
        return r.stdout.split(separator: "\n").filter { $0.contains("(NEEDED)") }.compactMap { line in
            line.range(of: "[").map { String(line[$0.upperBound...].prefix { $0 != "]" }) }
        }
    }

    // MARK: (a) libgcc

    func testBuiltNormallyLibgccCatchesEveryEntryWithTheCalleeSavedRegistersIntact() throws {
        let program = try probe(.libgcc)
        XCTAssertFalse(try neededLibraries(program).contains("libunwind.so.8"))
        // Every registrar, and libgcc's alone.
        assertEveryEntryCaught(try run(program, registrars: 15), unwinder: "libgcc_s.so.1", "registrars 15")
        assertEveryEntryCaught(try run(program, registrars: 1), unwinder: "libgcc_s.so.1", "registrars 1 (libgcc)")
        // libgcc ran: libstdc++'s __cxa_throw called libgcc_s's _Unwind_RaiseException.
        XCTAssertEqual(try libstdcxxBinding(program, registrars: 1), ["/lib/x86_64-linux-gnu/libgcc_s.so.1"])
    }

    /// A statically linked libgcc has its own list of registered frames, which the page's
    /// __register_frame (into libgcc_s.so.1) never reaches: the throw ended in
    /// std::terminate. libgcc 12 looks a pc up with glibc's _dl_find_object, which the
    /// library answers for the page (phdr.c), with or without any registrar.
    func testBuiltWithStaticLibgccAndLibstdcxxTheProgramsOwnUnwinderCatchesEveryEntryThroughDlFindObject() throws {
        let program = try probe(.staticLibgcc)
        let needed = try neededLibraries(program)
        XCTAssertFalse(needed.contains("libstdc++.so.6") || needed.contains("libgcc_s.so.1"), "\(needed)")
        // The unwinder is the program's own copy: a local definition in its symbol table.
        let nm = try Subprocess.run(try Tools.path("nm"), [program])
        let local = nm.stdout.split(separator: "\n").filter { $0.hasSuffix(" t _Unwind_RaiseException") || $0.hasSuffix(" T _Unwind_RaiseException") }
        XCTAssertEqual(local.count, 1, nm.stdout)
        // libgcc's lookup, which the link bound to the library's definition (unversioned:
        // glibc's would be _dl_find_object@GLIBC_2.35).
        XCTAssertTrue(nm.stdout.split(separator: "\n").contains { $0.hasSuffix(" U _dl_find_object") }, nm.stdout)
        // The probe names the global scope's _Unwind_RaiseException (libgcc_s, which the Swift
        // runtime brings); libstdc++'s __cxa_throw, linked in, calls the program's own.
        for registrars in [15, 1, 0] {
            assertEveryEntryCaught(try run(program, registrars: registrars), unwinder: "libgcc_s.so.1",
                                   "static libgcc, registrars \(registrars)")
        }
    }

    // MARK: (b) nongnu libunwind

    func testBuiltWithLibunwindFirstLibunwindCatchesEveryEntryWithTheCalleeSavedRegistersIntact() throws {
        let program = try probe(.libunwind)
        XCTAssertEqual(try neededLibraries(program).first, "libunwind.so.8")
        assertEveryEntryCaught(try run(program, registrars: 15), unwinder: "libunwind.so.8", "registrars 15")
        assertEveryEntryCaught(try run(program, registrars: 2), unwinder: "libunwind.so.8", "registrars 2 (libunwind)")
        XCTAssertEqual(try libstdcxxBinding(program, registrars: 2), ["/lib/x86_64-linux-gnu/libunwind.so.8"])
    }

    func testABareMinusLunwindBeforeTheSourcesIsDroppedByAsNeededAndLibgccStays() throws {
        // The trap the link line above avoids: `-lunwind` alone before the sources is dropped
        // by --as-needed, and the program silently keeps libgcc.
        let dir = try Tools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let program = try FixturePrograms.build("exception_probe.cc", language: .cxx, in: dir, before: ["-lunwind"])
        XCTAssertFalse(try neededLibraries(program).contains("libunwind.so.8"))
        assertEveryEntryCaught(try run(program, registrars: 1), unwinder: "libgcc_s.so.1", "bare -lunwind")
    }

    // MARK: (c) registration is what makes it right

    /// With the library's lookups off (VUNWIND_VSYSCALL_LOOKUP=off), registration is the only
    /// way in: without the unwinder's own, the throw ends in std::terminate.
    func testWithTheLookupsOffAndWithoutItsUnwindersRegistrationTheThrowEndsInStdTerminate() throws {
        let off = ["VUNWIND_VSYSCALL_LOOKUP": "off"]
        // libgcc build: all registrars but libgcc (14), none (0), libunwind's alone (2).
        let libgcc = try probe(.libgcc)
        for mask in [14, 0, 2] {
            assertTerminated(try run(libgcc, registrars: mask, environment: off), unwinder: "libgcc_s.so.1", "libgcc build, registrars \(mask)")
        }
        XCTAssertEqual(try libstdcxxBinding(libgcc, registrars: 14), ["/lib/x86_64-linux-gnu/libgcc_s.so.1"])
        // ... and the same binary with libgcc's registration catches everything.
        assertEveryEntryCaught(try run(libgcc, registrars: 1, environment: off), unwinder: "libgcc_s.so.1", "libgcc build, registrars 1")

        // libunwind build: all but libunwind (13), none (0), libgcc's alone (1). libunwind's
        // unw_step would cross the entry's rbp frame by the frame-pointer chain, but its
        // _Unwind_RaiseException asks unw_get_proc_info for every frame, which fails in the
        // page: phase 1 fails, __cxa_throw calls std::terminate, no wrong-register catch.
        let libunwind = try probe(.libunwind)
        for mask in [13, 0, 1] {
            assertTerminated(try run(libunwind, registrars: mask, environment: off), unwinder: "libunwind.so.8", "libunwind build, registrars \(mask)")
        }
        XCTAssertEqual(try libstdcxxBinding(libunwind, registrars: 13), ["/lib/x86_64-linux-gnu/libunwind.so.8"])
        assertEveryEntryCaught(try run(libunwind, registrars: 2, environment: off), unwinder: "libunwind.so.8", "libunwind build, registrars 2")
    }

    /// By default the page is also found the way the vDSO is: libgcc_s asks
    /// _dl_find_object and libunwind dl_iterate_phdr, both answered by the library, so even
    /// a program that registers with no unwinder catches every throw.
    func testWithTheDefaultLookupsLibgccAndLibunwindCatchEveryEntryWithNoRegistrarAtAll() throws {
        assertEveryEntryCaught(try run(try probe(.libgcc), registrars: 0), unwinder: "libgcc_s.so.1", "libgcc build, registrars 0")
        assertEveryEntryCaught(try run(try probe(.libunwind), registrars: 0), unwinder: "libunwind.so.8",
                               "libunwind build, registrars 0")
    }

    // MARK: the sentinels are really in the registers

    func testTheSentinelsStayInRbxAndR12ToR15AcrossTheCallAndTheCatch() throws {
        // If the compiler spilled a sentinel to the stack and reloaded it after the catch, a
        // wrong restore by the unwinder would go unseen. vu_exc_try must load each sentinel
        // into its register, store the registers themselves after the catch, and never move
        // them through memory in between (only the prologue's push and epilogue's pop).
        for build in [Build.libgcc, .libunwind] {
            let program = try probe(build)
            let r = try Subprocess.run(try Tools.path("objdump"), ["-d", "--no-show-raw-insn", "--disassemble=vu_exc_try", program])
            XCTAssertEqual(r.status, 0, r.stderr)
            let body = r.stdout.split(separator: "\n").drop { !$0.contains("<vu_exc_try>:") }.map(String.init)
            XCTAssertTrue(body.contains { $0.contains("call") && $0.contains("__cxa_begin_catch") }, "no catch in vu_exc_try")
            for (register, sentinel) in [("rbx", "11"), ("r12", "12"), ("r13", "13"), ("r14", "14"), ("r15", "15")] {
                let value = "0x" + String(repeating: sentinel, count: 8)
                XCTAssertEqual(body.filter { $0.hasSuffix("movabs $\(value),%\(register)") }.count, 1,
                               "\(build): \(register) is not loaded with \(value)\n\(body.joined(separator: "\n"))")
                // After the catch: the register itself is stored to `after[]`.
                XCTAssertTrue(body.contains { $0.contains("mov    %\(register),") && $0.contains("(%r") && !$0.contains("(%rbp)") && !$0.contains("(%rsp)") },
                              "\(build): %\(register) is not stored straight to after[]")
                // No spill or reload through the frame.
                let spills = body.filter {
                    ($0.contains("%\(register),") && ($0.contains("(%rbp)") || $0.contains("(%rsp)")))
                        || (($0.contains("(%rbp),%\(register)") || $0.contains("(%rsp),%\(register)")))
                }
                XCTAssertEqual(spills, [], "\(build): %\(register) goes through memory")
            }
        }
    }
}
