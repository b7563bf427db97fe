// PerfMapRegistrar: perf symbolizes samples in anonymous memory from /tmp/perf-PID.map,
// lines of "START SIZE NAME" in hex. Other JITs in the process may use the same file, so
// registration appends our lines and deregistration removes exactly those, deleting the
// file only when nothing else is left in it.

import Synchronization
#if canImport(Glibc)
import Glibc
#endif

public final class PerfMapRegistrar: UnwindRegistrar {
    public let kind = RegistrarKind.perf
    public let path: String
    private let lock = Mutex<Set<UInt64>>([])

    public init(path: String? = nil) {
        self.path = path ?? "/tmp/perf-\(getpid()).map"
    }

    static func lines(_ image: RegisteredImage) -> [String] {
        image.symbols.map { "\(String($0.address, radix: 16)) \(String($0.size, radix: 16)) \($0.name)" }
    }

    public func register(_ image: RegisteredImage) throws {
        try lock.withLock { set in
            guard set.insert(image.imageAddress).inserted else {
                throw RegistrationError(kind, "image at 0x\(String(image.imageAddress, radix: 16)) is already registered")
            }
            let text = Self.lines(image).map { $0 + "\n" }.joined()
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                set.remove(image.imageAddress)
                throw RegistrationError(kind, "cannot open \(path): \(String(cString: strerror(errno)))")
            }
            defer { close(fd) }
            let bytes = Array(text.utf8)
            // One write with O_APPEND: lines from another writer cannot interleave ours.
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n == bytes.count else {
                set.remove(image.imageAddress)
                throw RegistrationError(kind, "cannot write \(path): \(String(cString: strerror(errno)))")
            }
        }
    }

    public func deregister(_ image: RegisteredImage) throws {
        try lock.withLock { set in
            guard set.remove(image.imageAddress) != nil else {
                throw RegistrationError(kind, "image at 0x\(String(image.imageAddress, radix: 16)) is not registered")
            }
            var ours = Set(Self.lines(image))
            guard let data = try? readWholeFile(path) else { return }
            var kept: [Substring] = []
            for line in data.split(separator: "\n") {
                // Remove each of our lines once; keep everything else.
                if ours.remove(String(line)) == nil { kept.append(line) }
            }
            if kept.isEmpty {
                unlink(path)
                return
            }
            let temporary = path + ".vunwind-\(getpid())"
            let text = Array(kept.map { $0 + "\n" }.joined().utf8)
            let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw RegistrationError(kind, "cannot rewrite \(path)") }
            _ = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
            rename(temporary, path)
        }
    }
}

func readWholeFile(_ path: String) throws -> String {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw RegistrationError(.perf, "cannot open \(path)") }
    defer { close(fd) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n <= 0 { break }
        out.append(contentsOf: chunk[0..<n])
    }
    return String(decoding: out, as: UTF8.self)
}
