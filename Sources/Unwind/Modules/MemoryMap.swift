// MemoryMap: a process's mappings as /proc/PID/maps lists them.

#if canImport(Glibc)
import Glibc
#endif

public struct MemoryMapping: Hashable, Sendable {
    public var start: UInt64
    public var end: UInt64
    public var readable: Bool
    public var writable: Bool
    public var executable: Bool
    public var shared: Bool
    public var offset: UInt64
    public var inode: UInt64
    /// The path, or "[vdso]", "[stack]", "[heap]", "" for anonymous memory.
    public var path: String
    /// From /proc/PID/smaps only: bytes of anonymous (private, written) pages, and the
    /// kernel's VmFlags ("dd": do not dump).
    public var anonymousBytes: UInt64? = nil
    public var vmFlags: [String]? = nil

    public var range: Range<UInt64> { start..<end }
    public var permissions: String {
        (readable ? "r" : "-") + (writable ? "w" : "-") + (executable ? "x" : "-") + (shared ? "s" : "p")
    }
}

public struct MemoryMap: Sendable {
    public var mappings: [MemoryMapping]

    public init(mappings: [MemoryMapping]) { self.mappings = mappings }

    /// The mappings of `pid` (this process by default).
    public static func read(pid: pid_t = getpid()) throws -> MemoryMap {
        let text = try readTextFile("/proc/\(pid)/maps")
        return MemoryMap(text: text)
    }

    public init(text: String) {
        var out: [MemoryMapping] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count >= 5 else { continue }
            let range = fields[0].split(separator: "-")
            guard range.count == 2, let s = UInt64(range[0], radix: 16), let e = UInt64(range[1], radix: 16) else { continue }
            let p = Array(fields[1])
            guard p.count == 4 else { continue }
            let path = fields.count == 6 ? String(fields[5]).trimmingLeadingSpaces() : ""
            out.append(MemoryMapping(start: s, end: e, readable: p[0] == "r", writable: p[1] == "w",
                                     executable: p[2] == "x", shared: p[3] == "s",
                                     offset: UInt64(fields[2], radix: 16) ?? 0, inode: UInt64(fields[4]) ?? 0,
                                     path: path))
        }
        mappings = out
    }

    /// The mappings of `pid` with their smaps details (what a core writer needs to follow
    /// the kernel's coredump_filter).
    public static func readDetailed(pid: pid_t) throws -> MemoryMap {
        let text = try readTextFile("/proc/\(pid)/smaps")
        var maps = MemoryMap(text: text)
        // smaps: a maps line, then "Key: value" lines until the next maps line.
        var i = -1
        for line in text.split(separator: "\n") {
            let isHeader = line.first.map { $0.isHexDigit } == true && line.contains("-") && !line.contains(":  ")
                && MemoryMap(text: String(line)).mappings.count == 1 && !line.hasPrefix("VmFlags")
            if isHeader { i += 1; continue }
            guard i >= 0, i < maps.mappings.count else { continue }
            if line.hasPrefix("Anonymous:") {
                let kb = line.split(separator: " ").dropFirst().first.flatMap { UInt64($0) } ?? 0
                maps.mappings[i].anonymousBytes = kb * 1024
            } else if line.hasPrefix("VmFlags:") {
                maps.mappings[i].vmFlags = line.split(separator: " ").dropFirst().map(String.init)
            }
        }
        return maps
    }

    public func mapping(containing address: UInt64) -> MemoryMapping? {
        mappings.first { $0.range.contains(address) }
    }

    /// True if any mapping is writable and executable at once.
    public var hasWritableExecutableMapping: Bool { mappings.contains { $0.writable && $0.executable } }
}

extension String {
    func trimmingLeadingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        return String(s)
    }
}

/// Reads a whole (procfs or regular) file as text.
func readTextFile(_ path: String) throws -> String {
    String(decoding: try readBinaryFile(path), as: UTF8.self)
}

/// Reads a whole file; procfs files report size 0, so read until EOF.
func readBinaryFile(_ path: String, limit: Int = 1 << 31) throws -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw SystemError(call: "open \(path)", errno: errno) }
    defer { close(fd) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while out.count < limit {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw SystemError(call: "read \(path)", errno: errno)
        }
        if n == 0 { break }
        out.append(contentsOf: chunk[0..<n])
    }
    return out
}

/// A failed system call, with strerror's text.
public struct SystemError: Error, CustomStringConvertible, Equatable {
    public var call: String
    public var errno: Int32
    public init(call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }
    public var description: String { "\(call): \(String(cString: strerror(errno)))" }
}
