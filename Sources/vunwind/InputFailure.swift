// InputFailure: how every subcommand reports hostile or unusable input: one line,
// "vunwind: <what>: at 0x<offset>: <message>", on stderr, and exit status 2.

import ArgumentParser
import Bytes
#if canImport(Glibc)
import Glibc
#endif

enum InputFailure {
    static let exitCode = ExitCode(2)

    /// Runs `body`; a decoding error becomes the one-line report and exit status 2.
    static func guarding<T>(_ subject: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let e as LocatedError {
            report("\(subject): \(e.description)")
        } catch let e as FileReadError {
            report("\(subject): \(e.message)")
        } catch let e as FileError {
            report("\(subject): \(e.message)")
        } catch let e as ExitCode {
            throw e
        } catch {
            report("\(subject): \(error)")
        }
        throw exitCode
    }

    static func report(_ line: String) {
        let flat = line.split(whereSeparator: \.isNewline).joined(separator: " ")
        let text = Array("vunwind: \(flat)\n".utf8)
        // write(2) on fd 2: unbuffered, and no shared FILE* state to reason about.
        _ = text.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}

extension InputFailure {
    /// Rewrites the progress line on a terminal's stderr ("" clears it).
    static func progress(_ line: String) {
        let text = Array(("\r\u{1b}[K" + line).utf8)
        _ = text.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}

struct FileReadError: Error {
    let message: String
}

/// Reads a whole file; errors carry strerror's text.
func readFile(_ path: String, limit: Int = 1 << 31) throws -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw FileReadError(message: "cannot open: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { throw FileReadError(message: "cannot stat: \(String(cString: strerror(errno)))") }
    guard (st.st_mode & S_IFMT) == S_IFREG else { throw FileReadError(message: "not a regular file") }
    guard st.st_size <= limit else { throw FileReadError(message: "larger than \(limit) bytes") }
    var out = [UInt8](repeating: 0, count: Int(st.st_size))
    var done = 0
    while done < out.count {
        let n = out.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, $0.count - done) }
        if n < 0 {
            if errno == EINTR { continue }
            throw FileReadError(message: "cannot read: \(String(cString: strerror(errno)))")
        }
        if n == 0 { break }
        done += n
    }
    return Array(out[0..<done])
}

/// Writes all of `bytes` to fd 1.
func writeStandardOutput(_ bytes: [UInt8]) {
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeBytes { write(1, $0.baseAddress! + done, $0.count - done) }
        if n < 0 {
            if errno == EINTR { continue }
            return
        }
        done += n
    }
}
