// Tools: where the judges (readelf, eu-readelf, llvm-dwarfdump, gdb, ...) and this
// package's own executables are. A missing tool is a test failure that says how to get it
// (`make deps`), never a skip.

import Foundation
import XCTest

public enum Tools {
    /// The absolute path of a system tool, or a failure naming the Debian package.
    public static func path(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        for dir in ["/usr/bin", "/usr/local/bin", "/bin", "/usr/sbin"] {
            let p = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        XCTFail("\(name) is not installed: run `make deps`", file: file, line: line)
        throw XCTSkip("unreachable")
    }

    /// The folder holding this package's built products (the test bundle sits in it).
    public static var buildDirectory: URL {
        var url = Bundle.main.bundleURL
        if url.pathExtension == "xctest" { url.deleteLastPathComponent() }
        return url
    }

    /// A product of this package (`vunwind`, a fixture program).
    public static func product(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let candidates = [buildDirectory.appendingPathComponent(name).path,
                          buildDirectory.deletingLastPathComponent().appendingPathComponent(name).path]
        for c in candidates where FileManager.default.isExecutableFile(atPath: c) { return c }
        XCTFail("\(name) was not built (looked in \(candidates))", file: file, line: line)
        throw XCTSkip("unreachable")
    }

    /// A fresh temporary directory, removed at process exit is not guaranteed: tests that
    /// write big files remove them themselves.
    public static func temporaryDirectory(_ prefix: String = "vunwind-test") throws -> URL {
        let url = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("\(prefix)-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The repository root (for fixtures/).
    public static var repositoryRoot: URL {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }
}

extension Tools {
    /// A committed fixture file (fixtures/README.md says where each comes from).
    public static func fixture(_ name: String) -> String {
        repositoryRoot.appendingPathComponent("fixtures").appendingPathComponent(name).path
    }
}

extension Tools {
    /// The Swift toolchain's clang (the one that builds this package's C targets; it ships
    /// compiler-rt's sanitizer runtimes), found next to the `swift` on PATH.
    public static func toolchainClang(file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for dir in path.split(separator: ":") {
            let swift = "\(dir)/swift"
            guard FileManager.default.isExecutableFile(atPath: swift) else { continue }
            let real = URL(fileURLWithPath: swift).resolvingSymlinksInPath().deletingLastPathComponent()
            let clang = real.appendingPathComponent("clang").path
            if FileManager.default.isExecutableFile(atPath: clang) { return clang }
        }
        XCTFail("no clang next to the swift on PATH", file: file, line: line)
        throw XCTSkip("unreachable")
    }
}
