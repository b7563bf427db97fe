// EntryKind: the four vsyscalls, their slots in the text page (the legacy x86-64 vsyscall
// spacing, 0x400 apart), the syscalls they stand for, and their pointer arguments.

public enum EntryKind: String, CaseIterable, Sendable {
    case gettimeofday = "vgettimeofday"
    case time = "vtime"
    case getcpu = "vgetcpu"
    case clockGettime = "vclock_gettime"

    public var name: String { rawValue }

    /// Offset of the entry in the text page.
    public var slot: UInt64 {
        switch self {
        case .gettimeofday: return 0x000
        case .time: return 0x400
        case .getcpu: return 0x800
        case .clockGettime: return 0xc00
        }
    }

    public static let slotSize: UInt64 = 0x400

    /// The x86-64 syscall the entry implements (and falls back to).
    public var syscallNumber: UInt32 {
        switch self {
        case .gettimeofday: return 96
        case .time: return 201
        case .getcpu: return 309
        case .clockGettime: return 228
        }
    }

    /// What %rax holds when the call succeeds: 0, or the seconds (time).
    public var returnsSeconds: Bool { self == .time }

    public struct PointerArgument: Equatable, Sendable {
        /// 0-based argument index (rdi, rsi, rdx...).
        public var index: UInt8
        /// Bytes the entry stores there.
        public var size: UInt16
        /// NULL means "do not store" (as the syscall allows); otherwise NULL is -EFAULT.
        public var nullAllowed: Bool
    }

    public var pointerArguments: [PointerArgument] {
        switch self {
        case .gettimeofday: return [.init(index: 0, size: 16, nullAllowed: true), .init(index: 1, size: 8, nullAllowed: true)]
        case .time: return [.init(index: 0, size: 8, nullAllowed: true)]
        case .getcpu: return [.init(index: 0, size: 4, nullAllowed: true), .init(index: 1, size: 4, nullAllowed: true),
                              .init(index: 2, size: 0, nullAllowed: true)]
        case .clockGettime: return [.init(index: 1, size: 16, nullAllowed: false)]
        }
    }
}
