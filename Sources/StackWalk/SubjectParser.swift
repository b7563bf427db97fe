// SubjectParser: `--subject` as users write it, FILE:SYMBOL or FILE:SYMBOL(ARG, ...), e.g.
//   '/lib/x86_64-linux-gnu/libc.so.6:strlen("hello world")'
//   '/lib/x86_64-linux-gnu/libc.so.6:qsort("dcba", 4, 1, cmp_bytes)'
// ARG: an integer (123, -5, 0x1f), a string literal ("..." with \n \t \\ \" \xHH), a
// zeroed buffer zeros(N), or a callback the helper provides (cmp_bytes, cmp_ints).
// At most six. The file must be an ELF shared object defining SYMBOL: checked here, before
// anything is spawned, so a typo is one line and exit 2, not a helper's death.

import Bytes
import ELF

public struct SubjectError: Error, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

public enum SubjectParser {
    /// Parses and checks one subject.
    public static func parse(_ text: String) throws -> WalkSubject {
        let bytes = Array(text.utf8)
        let open = bytes.firstIndex(of: UInt8(ascii: "("))
        let head = String(decoding: bytes[..<(open ?? bytes.endIndex)], as: UTF8.self)
        guard let colon = head.lastIndex(of: ":") else {
            throw SubjectError("\(text): expected FILE:SYMBOL or FILE:SYMBOL(ARGS)")
        }
        let file = String(head[..<colon])
        let symbol = String(head[head.index(after: colon)...])
        guard !file.isEmpty, !symbol.isEmpty else { throw SubjectError("\(text): expected FILE:SYMBOL or FILE:SYMBOL(ARGS)") }
        var arguments: [SubjectArgument] = []
        if let open {
            guard bytes.last == UInt8(ascii: ")") else { throw SubjectError("\(text): the argument list does not end with )") }
            arguments = try parseArguments(Array(bytes[(open + 1)..<(bytes.count - 1)]), in: text)
        }
        guard arguments.count <= 6 else { throw SubjectError("\(text): at most 6 arguments, got \(arguments.count)") }
        try check(file: file, symbol: symbol)
        return WalkSubject(.function(file: file, symbol: symbol, arguments: arguments))
    }

    /// The file is a readable ELF object that defines `symbol` as a function.
    static func check(file: String, symbol: String) throws {
        let elf: ELFFile
        do {
            elf = try ELFFile(source: try FileByteSource(path: file))
        } catch let e as LocatedError {
            throw SubjectError("\(file): \(e.description)")
        } catch {
            throw SubjectError("\(file): \(error)")
        }
        let symbols = (try? elf.symbols()) ?? []
        // STT_FUNC, or STT_GNU_IFUNC (libc's string functions: dlsym runs the resolver).
        guard symbols.contains(where: { $0.name == symbol && $0.isDefined && ($0.type == ELF.sttFunc || $0.type == 10) }) else {
            throw SubjectError("\(file): no function \(symbol)")
        }
    }

    static func parseArguments(_ bytes: [UInt8], in text: String) throws -> [SubjectArgument] {
        var items: [[UInt8]] = []
        var current: [UInt8] = []
        var inString = false
        var escaped = false
        for b in bytes {
            if inString {
                current.append(b)
                if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inString = false }
            } else if b == UInt8(ascii: ",") {
                items.append(current)
                current = []
            } else {
                if b == UInt8(ascii: "\"") { inString = true }
                current.append(b)
            }
        }
        guard !inString else { throw SubjectError("\(text): unterminated string literal") }
        if !current.isEmpty || !items.isEmpty { items.append(current) }
        return try items.map { try argument(trimmed($0), in: text) }
    }

    static func trimmed(_ b: [UInt8]) -> [UInt8] {
        let isSpace = { (c: UInt8) in c == 0x20 || c == 0x09 }
        guard let first = b.firstIndex(where: { !isSpace($0) }), let last = b.lastIndex(where: { !isSpace($0) }) else { return [] }
        return Array(b[first...last])
    }

    static func argument(_ b: [UInt8], in text: String) throws -> SubjectArgument {
        let s = String(decoding: b, as: UTF8.self)
        guard !b.isEmpty else { throw SubjectError("\(text): an empty argument") }
        if b.first == UInt8(ascii: "\"") {
            guard b.count >= 2, b.last == UInt8(ascii: "\"") else { throw SubjectError("\(text): bad string literal \(s)") }
            return .string(try unescape(Array(b[1..<(b.count - 1)]), literal: s, in: text))
        }
        if s.hasPrefix("zeros(") && s.hasSuffix(")") {
            guard let n = Int(s.dropFirst(6).dropLast()), n >= 0, n <= SubjectArgument.maximumBuffer else {
                throw SubjectError("\(text): zeros(N) takes 0 to \(SubjectArgument.maximumBuffer) bytes, got \(s)")
            }
            return .zeros(n)
        }
        if SubjectArgument.callbacks.contains(s) { return .callback(s) }
        let negative = s.hasPrefix("-")
        let digits = negative ? s.dropFirst() : Substring(s)
        let magnitude: UInt64?
        if digits.hasPrefix("0x") || digits.hasPrefix("0X") { magnitude = UInt64(digits.dropFirst(2), radix: 16) } else { magnitude = UInt64(digits) }
        guard let m = magnitude, !digits.isEmpty else {
            throw SubjectError("\(text): bad argument \(s) (an integer, \"string\", zeros(N), \(SubjectArgument.callbacks.joined(separator: " or ")))")
        }
        if negative {
            guard m <= UInt64(Int64.max) + 1 else { throw SubjectError("\(text): \(s) does not fit in 64 bits") }
            return .integer(m == UInt64(Int64.max) + 1 ? Int64.min : -Int64(m))
        }
        return .integer(Int64(bitPattern: m))
    }

    static func unescape(_ b: [UInt8], literal: String, in text: String) throws -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while i < b.count {
            guard b[i] == UInt8(ascii: "\\") else { out.append(b[i]); i += 1; continue }
            guard i + 1 < b.count else { throw SubjectError("\(text): bad escape in \(literal)") }
            switch b[i + 1] {
            case UInt8(ascii: "n"): out.append(0x0a); i += 2
            case UInt8(ascii: "t"): out.append(0x09); i += 2
            case UInt8(ascii: "0"): out.append(0); i += 2
            case UInt8(ascii: "\\"), UInt8(ascii: "\""): out.append(b[i + 1]); i += 2
            case UInt8(ascii: "x"):
                guard i + 3 < b.count, let v = UInt8(String(decoding: b[(i + 2)...(i + 3)], as: UTF8.self), radix: 16) else {
                    throw SubjectError("\(text): bad \\x escape in \(literal)")
                }
                out.append(v); i += 4
            default: throw SubjectError("\(text): bad escape in \(literal)")
            }
        }
        return out
    }
}
