// CoreRewriter: writes a copy of a core in which the returned threads' NT_PRSTATUS
// register blocks and the outputs their calls stored are changed, and every other byte is
// the input's. The copy goes to a new temporary file beside OUT (O_EXCL|O_NOFOLLOW) and is
// renamed over OUT at the end; the input is never opened for writing, and OUT may not be
// the input (by path or by inode).

import Bytes
import ELF
#if canImport(Glibc)
import Glibc
#endif

public enum CoreRewriter {
    public struct Failure: Error, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// What a rewrite changed.
    public struct Summary: Sendable, Equatable {
        public var threads: Int
        public var outputBytes: Int
        /// Outputs that fall in memory the core does not hold (a page never dumped).
        public var outputsLeftOut: Int
    }

    /// The file offsets holding [address, address + count), or nil if any byte is not
    /// stored in the core file (not dumped, or zero-filled).
    public static func fileOffsets(_ memory: CoreMemory, _ address: UInt64, _ count: Int) -> [(offset: UInt64, count: Int)]? {
        var out: [(UInt64, Int)] = []
        var a = address
        var left = count
        while left > 0 {
            guard let piece = memory.piece(containing: a) else { return nil }
            let s = memory.segments[piece.segment]
            let inSegment = a - s.virtualAddress
            guard inSegment < min(s.fileSize, s.memorySize) else { return nil }
            let n = Int(min(UInt64(left), min(piece.end, s.virtualAddress + min(s.fileSize, s.memorySize)) - a))
            let (offset, over) = s.offset.addingReportingOverflow(inSegment)
            guard !over, memory.source.contains(offset: offset, count: UInt64(n)) else { return nil }
            out.append((offset, n))
            a += UInt64(n)
            left -= n
        }
        return out
    }

    @discardableResult
    public static func rewrite(input: String, core: CoreFile, output: String,
                               returns: [(thread: CoreThread, result: SynthesizedReturn)]) throws(Failure) -> Summary {
        var inStat = stat(), outStat = stat()
        guard stat(input, &inStat) == 0 else { throw Failure(message: "\(input): \(String(cString: strerror(errno)))") }
        if output == input || (stat(output, &outStat) == 0 && outStat.st_dev == inStat.st_dev && outStat.st_ino == inStat.st_ino) {
            throw Failure(message: "\(output): the rewritten core may not replace its input")
        }
        let fdIn = open(input, O_RDONLY | O_CLOEXEC)
        guard fdIn >= 0 else { throw Failure(message: "\(input): \(String(cString: strerror(errno)))") }
        defer { close(fdIn) }
        var rng = SystemRandomNumberGenerator()
        let temporary = "\(output).vunwind-\(getpid())-\(String(rng.next() as UInt64, radix: 16))"
        let fdOut = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, inStat.st_mode & 0o777)
        guard fdOut >= 0 else { throw Failure(message: "\(temporary): \(String(cString: strerror(errno)))") }
        var done = false
        defer {
            close(fdOut)
            if !done { unlink(temporary) }
        }
        // Copy in 1 MiB chunks: a core is never held in memory.
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: off_t = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(fdIn, $0.baseAddress, $0.count, offset) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw Failure(message: "\(input): \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            try writeAll(fdOut, buffer, count: n, at: offset, path: temporary)
            offset += off_t(n)
        }
        var summary = Summary(threads: 0, outputBytes: 0, outputsLeftOut: 0)
        for (thread, result) in returns {
            var bytes: [UInt8] = []
            for w in result.registers { for k in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: w >> (8 * UInt64(k)))) } }
            try writeAll(fdOut, bytes, count: bytes.count, at: off_t(thread.registersFileOffset), path: temporary)
            summary.threads += 1
            for o in result.outputs {
                guard let places = fileOffsets(core.memory, o.address, o.bytes.count) else {
                    summary.outputsLeftOut += 1
                    continue
                }
                var from = 0
                for (fileOffset, count) in places {
                    try writeAll(fdOut, Array(o.bytes[from..<(from + count)]), count: count, at: off_t(fileOffset), path: temporary)
                    from += count
                }
                summary.outputBytes += o.bytes.count
            }
        }
        guard rename(temporary, output) == 0 else { throw Failure(message: "\(output): \(String(cString: strerror(errno)))") }
        done = true
        return summary
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8], count: Int, at offset: off_t, path: String) throws(Failure) {
        var written = 0
        while written < count {
            let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress! + written, count - written, offset + off_t(written)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw Failure(message: "\(path): \(String(cString: strerror(errno)))") }
            written += n
        }
    }
}
