// RegisteredImage: what the registrars need to know about a piece of generated code: the
// in-memory ELF image (for gdb), its .eh_frame (libgcc) and .eh_frame_hdr table
// (libunwind), and its symbols (perf).

public struct RegisteredImage: Sendable, Hashable {
    public struct Symbol: Sendable, Hashable {
        public var name: String
        public var address: UInt64
        public var size: UInt64
        public init(name: String, address: UInt64, size: UInt64) {
            self.name = name
            self.address = address
            self.size = size
        }
    }

    /// A name for messages ("vunwind-vsyscall").
    public var name: String
    /// The ELF image in memory (base and size), linked at its run-time address.
    public var imageAddress: UInt64
    public var imageSize: UInt64
    /// .eh_frame in memory, ending in its zero terminator.
    public var ehFrameAddress: UInt64
    /// .eh_frame_hdr in memory, and the number of entries in its table.
    public var ehFrameHeaderAddress: UInt64
    public var fdeCount: Int
    /// The code the CFI covers.
    public var code: Range<UInt64>
    public var symbols: [Symbol]

    public init(name: String, imageAddress: UInt64, imageSize: UInt64, ehFrameAddress: UInt64,
                ehFrameHeaderAddress: UInt64, fdeCount: Int, code: Range<UInt64>, symbols: [Symbol]) {
        self.name = name
        self.imageAddress = imageAddress
        self.imageSize = imageSize
        self.ehFrameAddress = ehFrameAddress
        self.ehFrameHeaderAddress = ehFrameHeaderAddress
        self.fdeCount = fdeCount
        self.code = code
        self.symbols = symbols
    }
}
