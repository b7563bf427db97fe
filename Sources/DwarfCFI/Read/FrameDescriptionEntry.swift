// FrameDescriptionEntry: a parsed FDE, its code range, LSDA and instruction bytes.

public struct FrameDescriptionEntry: Hashable, Sendable {
    /// Offset of the entry's length field in its section.
    public var offset: Int
    public var end: Int
    /// Section offset of the CIE this FDE uses.
    public var cieOffset: Int
    public var initialLocation: UInt64
    public var addressRange: UInt64
    public var lsda: EncodedPointer?
    /// Byte range of the instructions in the section.
    public var instructions: Range<Int>

    /// The code the FDE covers. An FDE whose range would wrap covers up to the top.
    public var pcRange: Range<UInt64> {
        let end = initialLocation.addingReportingOverflow(addressRange)
        return initialLocation..<(end.overflow ? UInt64.max : end.partialValue)
    }

    public func contains(_ pc: UInt64) -> Bool { pcRange.contains(pc) }
}
