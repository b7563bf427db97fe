// SystemLibraries: the real libraries the CFI tests judge against, found where this
// process loaded them (so the test reads exactly what runs), and the kernel's vDSO.

import Foundation
import XCTest

public enum SystemLibraries {
    /// The on-disk path of a library this process has mapped, by file name
    /// ("libc.so.6"), or from the usual Debian and Swift locations.
    public static func path(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        if let maps = try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8) {
            for l in maps.split(separator: "\n") {
                if let slash = l.firstIndex(of: "/"), l.hasSuffix("/" + name) { return String(l[slash...]) }
            }
        }
        let candidates = ["/lib/x86_64-linux-gnu/\(name)", "/usr/lib/x86_64-linux-gnu/\(name)",
                          "/opt/swift/usr/lib/swift/linux/\(name)", "/usr/lib/swift/linux/\(name)"]
        for c in candidates where FileManager.default.fileExists(atPath: c) { return c }
        XCTFail("\(name) not found", file: file, line: line)
        throw XCTSkip("unreachable")
    }

    /// The libraries the acceptance names (the vDSO is separate: it is not a file).
    public static let judged = ["libc.so.6", "libstdc++.so.6", "libgcc_s.so.1", "libswiftCore.so"]
}
