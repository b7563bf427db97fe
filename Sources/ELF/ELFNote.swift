// ELFNote: one note (gABI "Note Section"): owner name, type and descriptor bytes, with the
// file offset of the descriptor (core files edit registers in place there).

public struct ELFNote: Hashable, Sendable {
    public var name: String
    public var type: UInt32
    public var descriptor: [UInt8]
    /// File offset of the first descriptor byte.
    public var descriptorOffset: UInt64
}
