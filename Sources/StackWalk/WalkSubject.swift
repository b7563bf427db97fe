// WalkSubject: one function the tester calls in its helper and steps through, driven down
// one path. Three kinds: an entry of our page (each entry down each of its paths), an
// export of the running kernel's vDSO, and any function of any ELF shared object.

import Vsyscall

public struct WalkSubject: Hashable, Sendable, CustomStringConvertible {
    public enum Target: Hashable, Sendable {
        /// One of our entries (`EntryKind` name), down `path`.
        case page(entry: EntryKind, path: PagePath)
        /// An export of the kernel's vDSO, called with `arguments`.
        case vdso(symbol: String, arguments: [SubjectArgument])
        /// A function of a shared object, loaded with dlopen.
        case function(file: String, symbol: String, arguments: [SubjectArgument])
        /// Whatever your own helper calls: a program that asks to be traced
        /// (PTRACE_TRACEME) and calls its subject through CWalkSubject's vu_walk_call (see
        /// examples/jit). `arguments` are its command line.
        case helper(name: String, arguments: [String])
    }

    /// The paths through an entry of our page.
    public enum PagePath: String, CaseIterable, Hashable, Sendable {
        /// TSC clock mode (or the machine's default), valid pointers.
        case fast
        /// The writer held mid-update, so the reader loops at least once.
        case retry
        /// syscall clock mode: the entry's fallback syscall.
        case syscall
        /// An unsupported clock id (vclock_gettime only): the fallback syscall.
        case badclock
        /// A bad pointer in EFAULT mode: the fault, the fixup handler, -EFAULT.
        case efault
        /// A bad pointer in SIGSEGV mode: the fault, then the helper's SIGSEGV handler
        /// returns the call through the signal frame.
        case sigsegv
    }

    public var target: Target

    public init(_ target: Target) { self.target = target }

    /// The name in the matrix.
    public var name: String {
        switch target {
        case let .page(entry, _): return entry.name
        case let .vdso(symbol, arguments): return "[vdso]:\(symbol)(\(arguments.map(\.description).joined(separator: ", ")))"
        case let .function(file, symbol, arguments):
            let base = file.split(separator: "/").last.map(String.init) ?? file
            return "\(base):\(symbol)(\(arguments.map(\.description).joined(separator: ", ")))"
        case let .helper(name, _): return name
        }
    }

    /// The path column of the matrix ("call" for a plain function).
    public var path: String {
        if case let .page(_, path) = target { return path.rawValue }
        return "call"
    }

    public var description: String { "\(name) \(path)" }

    /// True for one of our page's entries.
    public var isPage: Bool {
        if case .page = target { return true }
        return false
    }

    /// The helper's command line for this subject (see Sources/WalkSubject/main.swift).
    var helperArguments: [String] {
        switch target {
        case let .page(entry, path): return ["page", entry.name, path.rawValue]
        case let .vdso(symbol, arguments): return ["vdso", symbol] + arguments.map(\.helperArgument)
        case let .function(file, symbol, arguments): return ["call", file, symbol] + arguments.map(\.helperArgument)
        case let .helper(_, arguments): return arguments
        }
    }

    /// Every path of every entry of our page (the default matrix).
    public static let page: [WalkSubject] = EntryKind.allCases.flatMap { entry in
        paths(of: entry).map { WalkSubject(.page(entry: entry, path: $0)) }
    }

    /// The paths an entry has: getcpu reads no clock (no lock, no clock mode), and only
    /// vclock_gettime takes a clock id.
    public static func paths(of entry: EntryKind) -> [PagePath] {
        switch entry {
        case .getcpu: return [.fast, .efault, .sigsegv]
        case .clockGettime: return PagePath.allCases
        case .gettimeofday, .time: return [.fast, .retry, .syscall, .efault, .sigsegv]
        }
    }

    /// The kernel vDSO's exports, each with valid arguments; clock_gettime for the clock
    /// ids with vDSO paths (REALTIME, MONOTONIC, MONOTONIC_RAW, the COARSE ones, BOOTTIME).
    public static let vdso: [WalkSubject] = {
        let ts = SubjectArgument.zeros(16)
        var list: [WalkSubject] = [WalkSubject(.vdso(symbol: "__vdso_gettimeofday", arguments: [ts, .integer(0)]))]
        for id: Int64 in [0, 1, 4, 5, 6, 7] {
            list.append(WalkSubject(.vdso(symbol: "__vdso_clock_gettime", arguments: [.integer(id), ts])))
        }
        list.append(WalkSubject(.vdso(symbol: "__vdso_time", arguments: [.zeros(8)])))
        list.append(WalkSubject(.vdso(symbol: "__vdso_getcpu", arguments: [.zeros(4), .zeros(4), .integer(0)])))
        list.append(WalkSubject(.vdso(symbol: "__vdso_clock_getres", arguments: [.integer(1), ts])))
        return list
    }()
}
