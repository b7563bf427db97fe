// InProcessBacktraceTests: backtraces taken inside a SIGSEGV handler that interrupted a
// vsyscall entry (sigsegv fault mode, bad pointer) cross the signal frame and the entry to
// the caller's caller's caller, with three unwinders bound explicitly in one process: glibc
// backtrace(), libgcc's _Unwind_Backtrace (dlopen libgcc_s.so.1) and nongnu libunwind's
// unw_step (dlopen libunwind.so.8, RTLD_LOCAL). The fixture is
// fixtures/programs/backtrace_probe.c, compiled here and spawned; it symbolizes outside the
// handler with dladdr and the page's own .dynsym.
//
// Registration matters, and how: without the page's CFI in libgcc's registry, backtrace()
// and _Unwind_Backtrace stop at the entry; libunwind's unw_step still crosses the entry's rbp
// frame by the frame-pointer chain (the names look right) but loses the callee-saved
// registers there: rbx in the caller's frame is unreadable (-UNW_EBADREG) instead of the
// caller's value. Each unwinder reads only its own registry.

import Foundation
import TestSupport
import XCTest

final class InProcessBacktraceTests: XCTestCase {
    static let entries = ["vgettimeofday", "vtime", "vgetcpu", "vclock_gettime"]
    static let unwinders = ["backtrace", "libgcc", "libunwind"]
    static let pageText: UInt64 = 0x5500_0000_1000
    static let sentinel = "0x1111111111111111"

    nonisolated(unsafe) private static var directory: URL?
    nonisolated(unsafe) private static var program: String?

    override class func tearDown() {
        if let directory { try? FileManager.default.removeItem(at: directory) }
        directory = nil
        program = nil
        super.tearDown()
    }

    private func probe(file: StaticString = #filePath, line: UInt = #line) throws -> String {
        if let program = Self.program { return program }
        let dir = try Tools.temporaryDirectory("vunwind-backtraces")
        Self.directory = dir
        let path = try FixturePrograms.build("backtrace_probe.c", in: dir, file: file, line: line)
        Self.program = path
        return path
    }

    struct Trace {
        var names: [String]
        var addresses: [UInt64]
        /// rbx as unwound in vu_bt_inner's frame ("0x...", or "error N"); nil for backtrace().
        var innerRBX: String?
    }

    /// Runs the probe with `registrars` and parses its traces, keyed "UNWINDER ENTRY".
    private func traces(registrars: Int, lookups: Bool = true, file: StaticString = #filePath,
                        line: UInt = #line) throws -> [String: Trace] {
        let r = try Subprocess.run(try probe(file: file, line: line), [String(registrars)],
                                   environment: ["SWIFT_BACKTRACE": "enable=no", "VUNWIND_VSYSCALL_LOOKUP": lookups ? "on" : "off"])
        XCTAssertFalse(r.signaled, "registrars \(registrars): killed by signal \(r.status)\n\(r.stdout)\(r.stderr)", file: file, line: line)
        XCTAssertEqual(r.status, 0, "registrars \(registrars)\n\(r.stdout)\(r.stderr)", file: file, line: line)
        XCTAssertEqual(r.stderr, "", file: file, line: line)
        var result: [String: Trace] = [:]
        for text in r.stdout.split(separator: "\n") {
            let fields = text.split(separator: " ").map(String.init)
            XCTAssertTrue(["trace", "inner-rbx"].contains(fields[0]), "unexpected line: \(text)", file: file, line: line)
            guard fields.count >= 4 else { continue }
            let key = fields[1] + " " + fields[2]
            if fields[0] == "trace" {
                var trace = Trace(names: [], addresses: [])
                for frame in fields.dropFirst(3) {
                    let at = frame.lastIndex(of: "@")!
                    trace.names.append(String(frame[..<at]))
                    let hex = frame[frame.index(after: at)...]
                    trace.addresses.append(hex.hasPrefix("0x") ? UInt64(hex.dropFirst(2), radix: 16) ?? 0 : 0)
                }
                result[key] = trace
            } else if fields[0] == "inner-rbx" {
                result[key]?.innerRBX = fields.dropFirst(3).joined(separator: " ")
            }
        }
        return result
    }

    /// The frames after the handler and the signal trampoline.
    private func afterSignalFrame(_ t: Trace, _ context: String, file: StaticString = #filePath, line: UInt = #line) -> ArraySlice<String> {
        guard let handler = t.names.firstIndex(of: "vu_bt_on_segv") else {
            XCTFail("\(context): no handler frame in \(t.names)", file: file, line: line)
            return []
        }
        XCTAssertEqual(t.names.dropFirst(handler + 1).first, "__restore_rt", "\(context): \(t.names)", file: file, line: line)
        return t.names.dropFirst(handler + 2)
    }

    func testEveryUnwinderCrossesTheSignalFrameAndTheEntryToMain() throws {
        try assertEveryUnwinderCrosses(registrars: 15)
    }

    /// No registrar at all: libgcc_s finds the page through _dl_find_object and libunwind
    /// through dl_iterate_phdr, both answered by the library, as they find the vDSO.
    func testWithNoRegistrarEveryUnwinderStillCrossesToMainThroughTheLibrarysLookups() throws {
        try assertEveryUnwinderCrosses(registrars: 0)
    }

    private func assertEveryUnwinderCrosses(registrars: Int) throws {
        let all = try traces(registrars: registrars)
        for unwinder in Self.unwinders {
            for (slot, entry) in Self.entries.enumerated() {
                let context = "\(unwinder) \(entry)"
                guard let t = all[context] else {
                    XCTFail("\(context): no trace")
                    continue
                }
                // The handler is the innermost frame: it collects, nothing else runs.
                XCTAssertEqual(t.names.first, "vu_bt_on_segv", context)
                let after = afterSignalFrame(t, context)
                XCTAssertEqual(Array(after.prefix(4)), [entry, "vu_bt_inner", "vu_bt_outer", "main"], "\(context): \(t.names)")
                // The entry's frame is the interrupted PC inside its own 0x400-byte slot.
                if let i = t.names.firstIndex(of: entry) {
                    let start = Self.pageText + UInt64(slot) * 0x400
                    XCTAssertTrue((start + 1..<start + 0x400).contains(t.addresses[i]),
                                  "\(context): 0x\(String(t.addresses[i], radix: 16)) is not inside \(entry)")
                }
                // Unwound through the entry's CFI, vu_bt_inner's rbx is its own sentinel again,
                // not the bad pointer the entry held in rbx.
                XCTAssertEqual(t.innerRBX, unwinder == "backtrace" ? nil : Self.sentinel, context)
            }
        }
    }

    /// With the library's dl_iterate_phdr and _dl_find_object answers off
    /// (VUNWIND_VSYSCALL_LOOKUP=off), only the registrations tell the unwinders.
    func testWithTheLookupsOffEachUnwinderNeedsItsOwnRegistration() throws {
        // registrars -> does libgcc's registry have the page? libunwind's?
        for (mask, libgccKnows, libunwindKnows) in [(0, false, false), (12, false, false), (1, true, false), (2, false, true)] {
            let all = try traces(registrars: mask, lookups: false)
            for entry in Self.entries {
                for unwinder in Self.unwinders {
                    let context = "registrars \(mask): \(unwinder) \(entry)"
                    guard let t = all["\(unwinder) \(entry)"] else {
                        XCTFail("\(context): no trace")
                        continue
                    }
                    let after = Array(afterSignalFrame(t, context))
                    let full = [entry, "vu_bt_inner", "vu_bt_outer", "main"]
                    if unwinder == "libunwind" {
                        // Crosses either way (the frame-pointer chain) ...
                        XCTAssertEqual(Array(after.prefix(4)), full, "\(context): \(t.names)")
                        // ... but only the registered CFI gives rbx back; the fallback loses it.
                        XCTAssertEqual(t.innerRBX, libunwindKnows ? Self.sentinel : "error -3", context)
                    } else if libgccKnows {
                        XCTAssertEqual(Array(after.prefix(4)), full, "\(context): \(t.names)")
                        if unwinder == "libgcc" { XCTAssertEqual(t.innerRBX, Self.sentinel, context) }
                    } else {
                        // No FDE for the interrupted PC: the walk ends at the entry.
                        XCTAssertEqual(after, [entry], "\(context): \(t.names)")
                        XCTAssertNil(t.innerRBX, context)
                    }
                }
            }
        }
    }
}
