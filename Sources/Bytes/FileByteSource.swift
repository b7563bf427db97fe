// FileByteSource: a regular file as a ByteSource, read with pread on demand. Cores are
// gigabytes; nothing here reads more than a caller asks for.
//
// Opening refuses what is not a regular file (a FIFO or a device would block or never
// end) without blocking on it: O_NONBLOCK on open, then fstat.

#if canImport(Glibc)
import Glibc
#endif

public final class FileByteSource: ByteSource, @unchecked Sendable {
    public let path: String
    public let size: UInt64
    private let fd: Int32

    public init(path: String) throws(FileError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw FileError(path: path, message: "cannot open: \(String(cString: strerror(errno)))") }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = errno
            close(fd)
            throw FileError(path: path, message: "cannot stat: \(String(cString: strerror(e)))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw FileError(path: path, message: "not a regular file")
        }
        self.fd = fd
        self.size = UInt64(st.st_size)
    }

    deinit { close(fd) }

    public func fetch(from address: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        guard contains(offset: address, count: UInt64(buffer.count)) else {
            throw MemoryReadError(address: address, count: buffer.count, detail: "past the end of \(path)")
        }
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(address) + off_t(done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                // The file shrank under us, or the disk failed.
                throw MemoryReadError(address: address &+ UInt64(done), count: buffer.count - done,
                                      detail: n == 0 ? "\(path) ends early" : String(cString: strerror(errno)))
            }
            done += n
        }
    }
}

/// A file that cannot be opened or is not a regular file.
public struct FileError: Error, Equatable, CustomStringConvertible {
    public let path: String
    public let message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { message }
}
