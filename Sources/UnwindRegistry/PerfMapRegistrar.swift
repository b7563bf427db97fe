// PerfMapRegistrar: perf symbolizes samples in anonymous memory from /tmp/perf-PID.map,
// lines of "START SIZE NAME" in hex. perf reads the file at report time, after the process
// has exited (`perf record -- ./prog; perf report`), so by default deregistration leaves
// the lines in place, as other JITs do. Opt out (keepsLines false, or VUNWIND_PERF_MAP=remove
// in the environment): deregistration then removes exactly our lines, deleting the file
// only when nothing else is left in it and it is still the file we made. Other JITs in the
// process may use the same file, so registration adds our lines to what is there (a line
// already there, from an earlier registration of the same image, is not added twice).
//
// /tmp is shared with every user of the machine and the name is predictable, so the file
// is never opened for writing by its name (SharedDirectoryFile). A forked child inherits
// the registrar: its file is /tmp/perf-CHILD.map, and it never touches the parent's.

import Locking
#if canImport(Glibc)
import Glibc
#endif

public final class PerfMapRegistrar: UnwindRegistrar {
    public let kind = RegistrarKind.perf
    private let explicitPath: String?
    /// Whether deregistration leaves the image's lines in the map file for perf report.
    public let keepsLines: Bool

    private struct State {
        /// Registered images and the process whose map file holds their lines.
        var images: [UInt64: pid_t] = [:]
        /// The file this registrar last put in place, per map file path.
        var created: [String: SharedDirectoryFile.Identity] = [:]
    }
    private let state = Locked(State())

    /// `path` nil: /tmp/perf-PID.map of the calling process, PID read at each call.
    /// `keepsLines` nil: true unless the environment has VUNWIND_PERF_MAP=remove.
    public init(path: String? = nil, keepsLines: Bool? = nil) {
        explicitPath = path
        self.keepsLines = keepsLines ?? (getenv("VUNWIND_PERF_MAP").map { String(cString: $0) } != "remove")
    }

    /// The map file this process writes.
    public var path: String { explicitPath ?? "/tmp/perf-\(getpid()).map" }

    static func lines(_ image: RegisteredImage) -> [String] {
        image.symbols.map { "\(String($0.address, radix: 16)) \(String($0.size, radix: 16)) \($0.name)" }
    }

    /// This process's start, in seconds since the epoch, rounded down (/proc/self/stat's
    /// starttime in clock ticks after /proc/stat's btime); nil if /proc says nothing.
    static func processStart() -> Int? {
        guard let stat = readSmallFile("/proc/self/stat"), let boot = readSmallFile("/proc/stat") else { return nil }
        // The command name may hold spaces and parentheses: fields count from the last ')'.
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After ')': state is field 3, so starttime (field 22) is at index 22 - 3.
        guard fields.count > 19, let ticks = Int(fields[19]),
              let line = boot.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
              let btime = Int(line.dropFirst(6)) else { return nil }
        let hz = sysconf(Int32(_SC_CLK_TCK))
        guard hz > 0 else { return nil }
        return btime + ticks / hz
    }

    public func register(_ image: RegisteredImage) throws {
        try state.withLock { state in
            guard state.images[image.imageAddress] == nil else {
                throw RegistrationError(kind, "image at 0x\(String(image.imageAddress, radix: 16)) is already registered")
            }
            let file = SharedDirectoryFile(path: path)
            // Another JIT's lines are kept only from a file of ours; anything else at the
            // name (a symlink, a FIFO, someone else's file) is replaced, never read.
            // ... and only if this process could have written it: a file last changed
            // before the process started was left by a dead process that had the same PID
            // (PIDs are reused; a killed JIT never removes its map), and its lines name
            // code that is not here.
            var text = ""
            if let own = file.readOwnFile(), let start = Self.processStart(), own.modified.tv_sec >= start {
                text = own.text
            }
            if !text.isEmpty && !text.hasSuffix("\n") { text += "\n" }
            let present = Set(text.split(separator: "\n").map(String.init))
            text += Self.lines(image).filter { !present.contains($0) }.map { $0 + "\n" }.joined()
            do throws(SharedDirectoryFile.Failure) {
                state.created[file.path] = try file.replace(with: text)
            } catch {
                throw RegistrationError(kind, error.message)
            }
            state.images[image.imageAddress] = getpid()
        }
    }

    public func deregister(_ image: RegisteredImage) throws {
        try state.withLock { state in
            guard let writer = state.images.removeValue(forKey: image.imageAddress) else {
                throw RegistrationError(kind, "image at 0x\(String(image.imageAddress, radix: 16)) is not registered")
            }
            // Registered by the parent before a fork: the lines are in the parent's file.
            // Kept: perf report reads them after we are gone.
            guard writer == getpid(), !keepsLines else { return }
            let file = SharedDirectoryFile(path: path)
            guard let (text, identity, _) = file.readOwnFile() else { return }
            var ours = Set(Self.lines(image))
            var kept: [Substring] = []
            for line in text.split(separator: "\n") {
                // Remove each of our lines once; keep everything else.
                if ours.remove(String(line)) == nil { kept.append(line) }
            }
            if kept.isEmpty, state.created[file.path] == identity {
                file.remove(ifStill: identity)
                state.created[file.path] = nil
                return
            }
            do throws(SharedDirectoryFile.Failure) {
                state.created[file.path] = try file.replace(with: kept.map { $0 + "\n" }.joined())
            } catch {
                throw RegistrationError(kind, error.message)
            }
        }
    }
}

/// A whole /proc file (they report size 0, so read to the end), at most 64 KiB.
private func readSmallFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while bytes.count < 65536 {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        bytes += chunk[0..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
}
