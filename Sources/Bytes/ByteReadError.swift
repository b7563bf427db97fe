// ByteReadError: what a ByteReader throws when the bytes run out or a LEB128 is malformed.

public struct ByteReadError: LocatedError, Equatable {
    public enum Reason: Equatable, Sendable {
        /// A read of `needed` bytes found only `available` before the end of the range.
        case truncated(needed: Int, available: Int)
        /// A LEB128 value has significant bits beyond 64.
        case lebOverflow
        /// A LEB128 value runs to the end of the range without a final byte.
        case lebUnterminated
        /// A seek or skip goes outside the range.
        case outOfRange(target: Int)
    }

    public let offset: UInt64
    public let reason: Reason

    public init(offset: UInt64, reason: Reason) {
        self.offset = offset
        self.reason = reason
    }

    public var message: String {
        switch reason {
        case let .truncated(needed, available):
            return "truncated: need \(needed) bytes, \(available) left"
        case .lebOverflow:
            return "LEB128 value does not fit in 64 bits"
        case .lebUnterminated:
            return "LEB128 value runs past the end of its range"
        case let .outOfRange(target):
            return "offset 0x\(String(target, radix: 16)) is outside the range"
        }
    }
}
