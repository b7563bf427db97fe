// FrameTable: the unwind information for a set of functions, as intent. CIEs are interned
// (equal CIEs are written once); FDEs name their CIE and list instructions at code offsets
// from the function start. EhFrameWriter turns it into .eh_frame and .eh_frame_hdr bytes.

public struct FrameTable: Sendable {
    /// A CIE as the writer's caller describes it. Always version 1 (GCC's .eh_frame, the
    /// one version every consumer reads without complaint; LLVM 14's dumper warns on 3).
    /// The augmentation string is derived: "z" + "P" (personality) + "L" (LSDA) + "R" +
    /// "S" (signal frame), GCC's order.
    public struct CIE: Hashable, Sendable {
        public var codeAlignmentFactor: UInt64
        public var dataAlignmentFactor: Int64
        public var returnAddressRegister: UInt16
        /// How FDEs point at their code. pcrel|sdata4 is what libgcc, libunwind and every
        /// other consumer resolve correctly (textrel/datarel resolve against 0 in libgcc).
        public var fdeEncoding: PointerEncoding
        public var isSignalFrame: Bool
        /// Personality routine: its encoding and the address it is encoded from (for an
        /// indirect encoding, the address of a pointer to the routine).
        public var personality: Personality?
        /// If set, every FDE of this CIE carries an LSDA pointer in this encoding.
        public var lsdaEncoding: PointerEncoding?
        public var initialInstructions: [FrameInstruction]

        public struct Personality: Hashable, Sendable {
            public var encoding: PointerEncoding
            public var address: UInt64
            public init(encoding: PointerEncoding, address: UInt64) {
                self.encoding = encoding
                self.address = address
            }
        }

        public init(codeAlignmentFactor: UInt64 = 1, dataAlignmentFactor: Int64 = -8,
                    returnAddressRegister: UInt16 = DwarfRegister.returnAddress,
                    fdeEncoding: PointerEncoding = .pcrel | .sdata4, isSignalFrame: Bool = false,
                    personality: Personality? = nil, lsdaEncoding: PointerEncoding? = nil,
                    initialInstructions: [FrameInstruction]) {
            self.codeAlignmentFactor = codeAlignmentFactor
            self.dataAlignmentFactor = dataAlignmentFactor
            self.returnAddressRegister = returnAddressRegister
            self.fdeEncoding = fdeEncoding
            self.isSignalFrame = isSignalFrame
            self.personality = personality
            self.lsdaEncoding = lsdaEncoding
            self.initialInstructions = initialInstructions
        }

        /// The x86-64 psABI state at a function's first instruction: CFA = rsp + 8, return
        /// address at CFA - 8.
        public static func x86_64(isSignalFrame: Bool = false) -> CIE {
            CIE(isSignalFrame: isSignalFrame,
                initialInstructions: [.cfa(DwarfRegister.rsp, 8), .offset(DwarfRegister.returnAddress, -8)])
        }

        public var augmentation: String {
            var s = "z"
            if personality != nil { s += "P" }
            if lsdaEncoding != nil { s += "L" }
            s += "R"
            if isSignalFrame { s += "S" }
            return s
        }
    }

    public struct FDE: Hashable, Sendable {
        public var cie: CIEID
        /// Address of the function's first instruction.
        public var start: UInt64
        public var length: UInt64
        /// LSDA address; required if and only if the CIE has an LSDA encoding.
        public var lsda: UInt64?
        /// Instructions at code offsets from `start`, in non-decreasing offset order.
        public var instructions: [(offset: UInt64, instruction: FrameInstruction)]

        public init(cie: CIEID, start: UInt64, length: UInt64, lsda: UInt64? = nil,
                    instructions: [(offset: UInt64, instruction: FrameInstruction)] = []) {
            self.cie = cie
            self.start = start
            self.length = length
            self.lsda = lsda
            self.instructions = instructions
        }

        public static func == (a: FDE, b: FDE) -> Bool {
            a.cie == b.cie && a.start == b.start && a.length == b.length && a.lsda == b.lsda
                && a.instructions.elementsEqual(b.instructions) { $0.offset == $1.offset && $0.instruction == $1.instruction }
        }

        public func hash(into h: inout Hasher) {
            h.combine(cie); h.combine(start); h.combine(length); h.combine(lsda)
            for (o, i) in instructions { h.combine(o); h.combine(i) }
        }
    }

    public struct CIEID: Hashable, Sendable, Comparable {
        public let index: Int
        public static func < (a: CIEID, b: CIEID) -> Bool { a.index < b.index }
    }

    public private(set) var cies: [CIE] = []
    public private(set) var fdes: [FDE] = []

    public init() {}

    /// Adds a CIE, or returns the ID of an equal one already present.
    public mutating func add(_ cie: CIE) -> CIEID {
        if let i = cies.firstIndex(of: cie) { return CIEID(index: i) }
        cies.append(cie)
        return CIEID(index: cies.count - 1)
    }

    public mutating func add(_ fde: FDE) {
        precondition(fde.cie.index < cies.count, "FDE names a CIE that is not in this table")
        fdes.append(fde)
    }
}
