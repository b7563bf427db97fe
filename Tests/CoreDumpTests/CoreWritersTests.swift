// CoreWritersTests: the analysis does not depend on who wrote the core, nor on the machine
// having the core's libraries. Cores of the same fault written by vunwind's CoreWriter, by
// gdb's gcore and by the kernel all load in gdb and eu-stack (the judges) and give the same
// analysis; a core analyzed as if from another machine (its libraries out of reach under
// --sysroot) gives eu-stack's frames and names every module it could not read.

import Foundation
import TestSupport
import XCTest

final class CoreWritersTests: XCTestCase {
    /// The faulting thread's analysis without addresses (gdb runs the program without ASLR,
    /// so its core's addresses differ): vsyscall, value, and each frame's function, offset
    /// and module file name.
    func shape(_ report: [String: Any]) -> [String] {
        guard let t = ((report["threads"] as? [[String: Any]]) ?? []).first(where: { $0["vsyscall"] != nil }) else { return ["no vsyscall thread"] }
        let v = t["vsyscall"] as? [String: Any] ?? [:]
        var out = ["\(v["kind"] ?? "") \(v["function"] ?? "")+\(v["offset"] ?? "")",
                   "returned \((t["returned"] as? [String: Any])?["value"] ?? "nothing")"]
        for f in (t["frames"] as? [[String: Any]]) ?? [] {
            let module = ((f["module"] as? String) ?? "?").split(separator: "/").last.map(String.init) ?? "?"
            out.append("\(f["function"] ?? "?")+\(f["offset"] ?? "?") \(module)")
        }
        return out
    }

    func assertEveryWriterAgrees(program: String, traced: [String], untraced: [String], directory dir: URL,
                                 vsyscallFunction: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let cores = try CoreHarness.crash(program, traced.map { $0 == "DIR" ? dir.path : $0 }, in: dir, chdirTo: dir)
        let gdbCore = dir.appendingPathComponent("gdb.core").path
        try CoreHarness.gdbCore(program, untraced.map { $0 == "DIR" ? dir.path : $0 }, to: gdbCore)
        var all = [("vunwind gcore", cores.ours), ("gdb gcore", gdbCore)]
        if let k = cores.kernel { all.append(("kernel", k)) }
        let reference = shape(try CoreHarness.analyze([cores.ours, "--no-cross-check"], file: file, line: line).first ?? [:])
        XCTAssertTrue(reference.first?.contains(vsyscallFunction) == true, "\(reference)", file: file, line: line)
        XCTAssertEqual(reference.dropFirst().first, "returned -14", file: file, line: line)
        for (writer, core) in all {
            XCTAssertEqual(shape(try CoreHarness.analyze([core, "--no-cross-check"], file: file, line: line).first ?? [:]),
                           reference, "\(writer)'s core", file: file, line: line)
            let g = try Subprocess.run(try Tools.path("gdb"), ["-batch", "-nx", "-ex", "bt", program, core])
            let frames = g.stdout.split(separator: "\n").filter { $0.hasPrefix("#") }
            XCTAssertGreaterThanOrEqual(frames.count, 4, "gdb on \(writer)'s core: \(g.stdout) \(g.stderr)", file: file, line: line)
            let e = try CoreHarness.euStack(core: core, exe: program)
            XCTAssertTrue(e.values.contains { $0.first?.name == vsyscallFunction }, "eu-stack on \(writer)'s core: \(e)",
                          file: file, line: line)
        }
        if let k = cores.kernel {
            // Ours and the kernel's are cores of the same process: the faulting thread's
            // analysis is equal to the address (other threads ran on in between).
            let a = try CoreHarness.analyze([cores.ours], file: file, line: line).first?["threads"] as? [[String: Any]]
            let b = try CoreHarness.analyze([k], file: file, line: line).first?["threads"] as? [[String: Any]]
            let frames = { (t: [[String: Any]]?) in
                (t ?? []).filter { $0["vsyscall"] != nil }.map { ($0["frames"] as? [[String: Any]] ?? []).compactMap { $0["pc"] as? String } }
            }
            XCTAssertEqual(frames(a), frames(b), "vunwind's and the kernel's cores of one process", file: file, line: line)
        }
    }

    func testVunwindGDBAndKernelCoresOfAVDSOFaultLoadInTheDebuggersAndAnalyzeAlike() throws {
        let dir = try Tools.temporaryDirectory("vunwind-core-writers")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        try assertEveryWriterAgrees(program: try CoreHarness.coreCrash(), traced: ["DIR", "vdso-gettimeofday", "traced"],
                                    untraced: ["DIR", "vdso-gettimeofday"], directory: dir, vsyscallFunction: "__vdso_gettimeofday")
    }

    func testVunwindGDBAndKernelCoresOfAPageFaultLoadInTheDebuggersAndAnalyzeAlike() throws {
        let dir = try Tools.temporaryDirectory("vunwind-core-writers")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        try assertEveryWriterAgrees(program: try FixturePrograms.shared("debug_probe.c"), traced: ["crash-traced", "vclock_gettime"],
                                    untraced: ["crash", "vclock_gettime"], directory: dir, vsyscallFunction: "vclock_gettime")
    }

    func testACoreFromAnotherMachineGivesEuStacksFramesAndNamesTheModuleItCouldNotRead() throws {
        let dir = try Tools.temporaryDirectory("vunwind-core-machine")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let program = try CoreHarness.buildCoreCrash(in: dir)
        let cores = try CoreHarness.crash(program, [dir.path, "lib", "traced"], in: dir)
        // The other machine: its C library at the same paths under a sysroot, its own
        // libcorecb.so gone (also for eu-stack, which reads the paths the core names).
        let lib = dir.appendingPathComponent("libcorecb.so").path
        XCTAssertEqual(rename(lib, lib + ".elsewhere"), 0)
        let root = dir.appendingPathComponent("sysroot")
        let libdir = root.appendingPathComponent("usr/lib/x86_64-linux-gnu")
        try FileManager.default.createDirectory(at: libdir, withIntermediateDirectories: true)
        for f in ["libc.so.6", "ld-linux-x86-64.so.2"] {
            try FileManager.default.copyItem(atPath: "/usr/lib/x86_64-linux-gnu/" + f, toPath: libdir.appendingPathComponent(f).path)
        }
        for core in [cores.ours] + (cores.kernel.map { [$0] } ?? []) {
            let report = try XCTUnwrap(CoreHarness.analyze([core, "--exe", program, "--sysroot", root.path]).first)
            let missing = (report["missingModules"] as? [[String: Any]]) ?? []
            XCTAssertEqual(missing.map { $0["name"] as? String }, [lib], "\(missing)")
            XCTAssertEqual(missing.first?["reason"] as? String, root.path + lib + ": cannot open: No such file or directory")
            let t = try XCTUnwrap(((report["threads"] as? [[String: Any]]) ?? []).first { $0["vsyscall"] != nil })
            let ours = ((t["frames"] as? [[String: Any]]) ?? []).compactMap { CoreHarness.hex($0["pc"]) }
            let theirs = try CoreHarness.euStack(core: core, exe: program)[t["tid"] as? Int ?? -1] ?? []
            XCTAssertEqual(Array(theirs.dropFirst().map(\.pc)), ours, "eu-stack's frames 1..n")
            // The library frame was crossed by its frame pointer, as libdwfl crosses it.
            let frames = (t["frames"] as? [[String: Any]]) ?? []
            XCTAssertEqual(frames.dropFirst().first?["caller"] as? String, "frame pointer", "\(frames)")
        }
    }
}
