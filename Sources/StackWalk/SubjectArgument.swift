// SubjectArgument: one integer or pointer argument of a subject, as the command line gives
// it: an integer literal, a string literal (a writable NUL-terminated copy), a zeroed
// buffer of N bytes, or a callback the helper provides (a comparator for qsort/bsearch).

public enum SubjectArgument: Hashable, Sendable, CustomStringConvertible {
    case integer(Int64)
    case string([UInt8])
    case zeros(Int)
    case callback(String)

    /// The callbacks the helper has (CWalkSubject).
    public static let callbacks = ["cmp_bytes", "cmp_ints"]
    /// The largest zeroed buffer the helper allocates.
    public static let maximumBuffer = 1 << 24

    public var description: String {
        switch self {
        case let .integer(v): return String(v)
        case let .string(bytes):
            var out = "\""
            for b in bytes {
                switch b {
                case 0x22: out += "\\\""
                case 0x5c: out += "\\\\"
                case 0x0a: out += "\\n"
                case 0x09: out += "\\t"
                case 0x20..<0x7f: out.unicodeScalars.append(Unicode.Scalar(b))
                default: out += "\\x" + (b < 16 ? "0" : "") + String(b, radix: 16)
                }
            }
            return out + "\""
        case let .zeros(n): return "zeros(\(n))"
        case let .callback(name): return name
        }
    }

    /// The helper's encoding (i:, s:HEX, z:, f:).
    var helperArgument: String {
        switch self {
        case let .integer(v): return "i:\(v)"
        case let .string(bytes): return "s:" + bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        case let .zeros(n): return "z:\(n)"
        case let .callback(name): return "f:\(name)"
        }
    }
}
