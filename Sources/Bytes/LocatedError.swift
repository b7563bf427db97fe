// LocatedError: the one shape every decoding failure in vunwind takes.
//
// Untrusted bytes (files, sections, cores, another process's memory) never trap; they throw
// an error that says *where* (a byte offset into the file or section, or an address in a
// memory image) and *what*, in one line. The command line prints exactly that line.

public protocol LocatedError: Error, CustomStringConvertible {
    /// Byte offset into the file or section, or the address in a memory image, where
    /// decoding failed.
    var offset: UInt64 { get }
    /// One line saying what is wrong, without the offset (callers prefix it).
    var message: String { get }
}

extension LocatedError {
    public var description: String { "at 0x\(String(offset, radix: 16)): \(message)" }
}

/// Bytes from untrusted input, for a one-line message: printable ASCII as is, anything
/// else (newlines included) as \xNN.
public func printableText<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
    var out = ""
    for b in bytes {
        if b >= 0x20 && b < 0x7f && b != UInt8(ascii: "\\") {
            out.unicodeScalars.append(Unicode.Scalar(b))
        } else {
            out += "\\x" + (b < 16 ? "0" : "") + String(b, radix: 16)
        }
    }
    return out
}
