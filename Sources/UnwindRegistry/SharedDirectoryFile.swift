// SharedDirectoryFile: a file at a predictable name in a directory other users can write
// (/tmp/perf-PID.map), handled so that nobody who plants something at that name can make
// us write, truncate, copy or delete anything of theirs or ours:
//   - content is never written through the name: it goes to a new file created with
//     O_CREAT|O_EXCL|O_NOFOLLOW at an unpredictable name beside it, then renamed over the
//     name (rename replaces a planted symlink itself, not its target);
//   - what is already at the name is read only when it is a regular file we own with one
//     link, opened with O_NOFOLLOW|O_NONBLOCK (no symlink, no FIFO that blocks, no hard link
//     to someone's 0600 file);
//   - the name is removed only while it is still the very inode we created.

#if canImport(Glibc)
import Glibc
#endif

struct SharedDirectoryFile {
    /// Device and inode: which file a name pointed at.
    struct Identity: Equatable, Sendable {
        var device: UInt64
        var inode: UInt64
        init(_ s: stat) {
            device = UInt64(s.st_dev)
            inode = UInt64(s.st_ino)
        }
    }

    struct Failure: Error {
        var message: String
    }

    let path: String

    /// The text at `path` and its identity when it is a regular file owned by this user with
    /// one link; nil when there is nothing there or what is there is not ours to read.
    func readOwnFile() -> (text: String, identity: Identity, modified: timespec)? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var s = stat()
        guard fstat(fd, &s) == 0, (s.st_mode & S_IFMT) == S_IFREG, s.st_uid == geteuid(), s.st_nlink == 1 else {
            return nil
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return (String(decoding: bytes, as: UTF8.self), Identity(s), s.st_mtim)
    }

    /// Puts `text` at `path` as a new 0644 file and returns the new file's identity.
    func replace(with text: String) throws(Failure) -> Identity {
        let (fd, temporary) = try createTemporary()
        var ok = false
        defer {
            close(fd)
            if !ok { unlink(temporary) }
        }
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw Failure(message: "cannot write \(temporary): \(Self.lastError())") }
            written += n
        }
        // Exactly 0644 whatever the umask: perf reads the file as the user who runs it.
        var s = stat()
        guard fchmod(fd, 0o644) == 0, fstat(fd, &s) == 0 else {
            throw Failure(message: "cannot set the mode of \(temporary): \(Self.lastError())")
        }
        guard rename(temporary, path) == 0 else {
            let reason = Self.lastError()
            var there = stat()
            let owner = lstat(path, &there) == 0 && there.st_uid != geteuid() ? " (it belongs to uid \(there.st_uid))" : ""
            throw Failure(message: "cannot replace \(path): \(reason)\(owner)")
        }
        ok = true
        return Identity(s)
    }

    /// Removes `path` if it is still the file `identity` names; true if it did.
    @discardableResult
    func remove(ifStill identity: Identity) -> Bool {
        var s = stat()
        guard lstat(path, &s) == 0, Identity(s) == identity else { return false }
        return unlink(path) == 0
    }

    private func createTemporary() throws(Failure) -> (Int32, String) {
        var rng = SystemRandomNumberGenerator()
        var lastReason = ""
        for _ in 0..<16 {
            let name = "\(path).vunwind-\(getpid())-\(String(rng.next() as UInt64, radix: 16))"
            let fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            if fd >= 0 { return (fd, name) }
            lastReason = Self.lastError()
            guard errno == EEXIST else { break }
        }
        throw Failure(message: "cannot create \(path): \(lastReason)")
    }

    private static func lastError() -> String { String(cString: strerror(errno)) }
}
