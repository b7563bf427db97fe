// ModuleImageCache: ELF files read from disk once for many address spaces: `vunwind core`
// given several cores of one program opens and parses each library once, and so does a
// test that analyzes a hundred thousand mutants of one core. A file is the same file while
// its device, inode, size and modification time are.

import Bytes
import ELF
import Locking
#if canImport(Glibc)
import Glibc
#endif

public final class ModuleImageCache: Sendable {
    struct Key: Hashable {
        var path: String
        var device: UInt64, inode: UInt64, size: Int64, modified: Int
    }

    private let images = Locked<[Key: ModuleImage]>([:])

    public init() {}

    /// The image of the file at `path`, parsed on first use. Throws FileError or ELFError.
    public func image(path: String) throws -> ModuleImage {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw FileError(path: path, message: "cannot open: \(String(cString: strerror(errno)))")
        }
        let key = Key(path: path, device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: Int64(st.st_size),
                      modified: st.st_mtim.tv_sec * 1_000_000_000 + st.st_mtim.tv_nsec)
        if let i = images.withLock({ $0[key] }) { return i }
        let image = ModuleImage(elf: try ELFFile(source: try FileByteSource(path: path)))
        images.withLock { $0[key] = image }
        return image
    }
}
