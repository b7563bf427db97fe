// CommonInformationEntry: a parsed CIE (DWARF 5 section 6.4.1; LSB "Exception Frames"),
// with the augmentation data decoded and the initial instructions left as bytes.

public struct CommonInformationEntry: Hashable, Sendable {
    /// Offset of the entry's length field in its section.
    public var offset: Int
    /// Offset just past the entry (start of the next one).
    public var end: Int
    /// 4 for 32-bit DWARF, 8 for 64-bit DWARF (initial length 0xffffffff).
    public var offsetSize: Int
    public var version: UInt8
    public var augmentation: String
    public var addressSize: UInt8
    public var segmentSelectorSize: UInt8
    public var codeAlignmentFactor: UInt64
    public var dataAlignmentFactor: Int64
    public var returnAddressRegister: UInt64
    /// Encoding of FDE addresses ('R'); absptr when the augmentation has no 'R'.
    public var fdeEncoding: PointerEncoding
    /// Encoding of FDE LSDA pointers ('L'), if any.
    public var lsdaEncoding: PointerEncoding?
    public var personalityEncoding: PointerEncoding?
    public var personality: EncodedPointer?
    /// 'S': frames described by this CIE are signal frames (the PC is not a return address).
    public var isSignalFrame: Bool
    /// Augmentation 'z': FDEs carry augmentation data with a length.
    public var hasAugmentationData: Bool
    /// Byte range of the initial instructions in the section.
    public var instructions: Range<Int>
}
