// PerfMapRegistrar: perf symbolizes samples in anonymous memory from /tmp/perf-PID.map,
// lines of "START SIZE NAME" in hex. Other JITs in the process may use the same file, so
// registration adds our lines to what is there and deregistration removes exactly those,
// deleting the file only when nothing else is left in it and it is still the file we made.
//
// /tmp is shared with every user of the machine and the name is predictable, so the file
// is never opened for writing by its name (SharedDirectoryFile). A forked child inherits
// the registrar: its file is /tmp/perf-CHILD.map, and it never touches the parent's.

import Synchronization
#if canImport(Glibc)
import Glibc
#endif

public final class PerfMapRegistrar: UnwindRegistrar {
    public let kind = RegistrarKind.perf
    private let explicitPath: String?

    private struct State {
        /// Registered images and the process whose map file holds their lines.
        var images: [UInt64: pid_t] = [:]
        /// The file this registrar last put in place, per map file path.
        var created: [String: SharedDirectoryFile.Identity] = [:]
    }
    private let state = Mutex(State())

    /// `path` nil: /tmp/perf-PID.map of the calling process, PID read at each call.
    public init(path: String? = nil) {
        explicitPath = path
    }

    /// The map file this process writes.
    public var path: String { explicitPath ?? "/tmp/perf-\(getpid()).map" }

    static func lines(_ image: RegisteredImage) -> [String] {
        image.symbols.map { "\(String($0.address, radix: 16)) \(String($0.size, radix: 16)) \($0.name)" }
    }

    public func register(_ image: RegisteredImage) throws {
        try state.withLock { state in
            guard state.images[image.imageAddress] == nil else {
                throw RegistrationError(kind, "image at 0x\(String(image.imageAddress, radix: 16)) is already registered")
            }
            let file = SharedDirectoryFile(path: path)
            // Another JIT's lines are kept only from a file of ours; anything else at the
            // name (a symlink, a FIFO, someone else's file) is replaced, never read.
            var text = file.readOwnFile()?.text ?? ""
            if !text.isEmpty && !text.hasSuffix("\n") { text += "\n" }
            text += Self.lines(image).map { $0 + "\n" }.joined()
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
            guard writer == getpid() else { return }
            let file = SharedDirectoryFile(path: path)
            guard let (text, identity) = file.readOwnFile() else { return }
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
