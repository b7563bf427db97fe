// FrameAddress: the one subtle rule of unwinding, made a type. A frame's address is either
// the instruction it was stopped at (the first frame, or the frame a signal interrupted)
// or a return address. A return address is looked up at address - 1: the call may be the
// last instruction of its function, and the byte after it may already belong to the next
// function or to a different CFI row. Every walker, the core analyzer and the CLI speak
// of frames in these terms.

public struct FrameAddress: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Hashable, Sendable {
        /// The instruction the thread was stopped at (a PC in the strict sense).
        case programCounter
        /// The address a call returns to.
        case returnAddress
    }

    public var value: UInt64
    public var kind: Kind

    public init(_ value: UInt64, _ kind: Kind) {
        self.value = value
        self.kind = kind
    }

    public static func programCounter(_ value: UInt64) -> FrameAddress { FrameAddress(value, .programCounter) }
    public static func returnAddress(_ value: UInt64) -> FrameAddress { FrameAddress(value, .returnAddress) }

    public var isReturnAddress: Bool { kind == .returnAddress }

    /// The address to look CFI and symbols up at.
    public var lookupAddress: UInt64 { kind == .returnAddress ? value &- 1 : value }

    public var description: String { "0x" + String(value, radix: 16) + (kind == .returnAddress ? " (return)" : "") }
}
