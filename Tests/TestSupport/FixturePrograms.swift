// FixturePrograms: C and C++ programs from fixtures/programs/ compiled by the test that
// needs them, with exact link lines (which unwinder a C++ program binds depends on the
// order of -l options, which SwiftPM cannot express). They reach the vsyscall page through
// include/vunwind/vsyscall.h, the generated linker script and libvunwind-vsyscall.so.

import Foundation
import Locking
import XCTest

public enum FixturePrograms {
    public enum Language { case c, cxx }

    /// Compiles fixtures/programs/`source` into `directory` as `name` and returns its path.
    /// `before` goes before the sources on the command line (e.g. "-lunwind" to make
    /// libunwind come first), `after` at the end.
    public static func build(_ source: String, name: String? = nil, language: Language = .c, in directory: URL,
                             before: [String] = [], after: [String] = [], file: StaticString = #filePath,
                             line: UInt = #line) throws -> String {
        let root = Tools.repositoryRoot.path
        let lib = Tools.buildDirectory.path
        let output = directory.appendingPathComponent(name ?? (source as NSString).deletingPathExtension).path
        let compiler = try Tools.path(language == .c ? "gcc" : "g++", file: file, line: line)
        let arguments = before + [
            "-O1", "-g", "-fno-omit-frame-pointer", "-fno-inline", "-rdynamic",
            // The entries are absolute symbols: GOT calls, no relaxation, no PIE (see vsyscall.h).
            "-no-pie", "-fno-pie", "-fno-plt", "-Wa,-mrelax-relocations=no",
            "-I", root + "/include", root + "/fixtures/programs/" + source, root + "/include/vunwind/vsyscall.ld",
            "-L", lib, "-lvunwind-vsyscall", "-Wl,-rpath," + lib, "-o", output,
        ] + after
        let r = try Subprocess.run(compiler, arguments)
        XCTAssertEqual(r.status, 0, "\(compiler) \(arguments.joined(separator: " "))\n\(r.stderr)", file: file, line: line)
        return output
    }

    /// `source` built once per test process with the default options, into one folder
    /// that is removed when the process exits: for test classes that spawn the same
    /// program many times.
    public static func shared(_ source: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        try sharedBuilds.withLock { state in
            if let path = state.programs[source] { return path }
            let folder: URL
            if let f = state.folder {
                folder = f
            } else {
                folder = try Tools.temporaryDirectory("vunwind-programs")
                state.folder = folder
                atexit { FixturePrograms.sharedBuilds.withLock { if let f = $0.folder { try? FileManager.default.removeItem(at: f) } } }
            }
            let path = try build(source, in: folder, file: file, line: line)
            state.programs[source] = path
            return path
        }
    }

    struct SharedBuilds {
        var folder: URL?
        var programs: [String: String] = [:]
    }
    static let sharedBuilds = Locked(SharedBuilds())
}
