// ELFConstants: the ELF64 numbers vunwind reads and writes (System V gABI; the x86-64 psABI;
// Linux's elf.h for note types and core files).

public enum ELF {
    public static let magic: [UInt8] = [0x7f, 0x45, 0x4c, 0x46]
    public static let classELF64: UInt8 = 2
    public static let dataLSB: UInt8 = 1
    public static let versionCurrent: UInt8 = 1
    public static let headerSize = 64
    public static let programHeaderSize = 56
    public static let sectionHeaderSize = 64
    public static let symbolSize = 24

    // e_type
    public static let etRel: UInt16 = 1
    public static let etExec: UInt16 = 2
    public static let etDyn: UInt16 = 3
    public static let etCore: UInt16 = 4
    // e_machine
    public static let emX86_64: UInt16 = 62

    // p_type
    public static let ptNull: UInt32 = 0
    public static let ptLoad: UInt32 = 1
    public static let ptDynamic: UInt32 = 2
    public static let ptInterp: UInt32 = 3
    public static let ptNote: UInt32 = 4
    public static let ptPhdr: UInt32 = 6
    public static let ptGnuEhFrame: UInt32 = 0x6474_e550
    public static let ptGnuStack: UInt32 = 0x6474_e551
    // p_flags
    public static let pfX: UInt32 = 1
    public static let pfW: UInt32 = 2
    public static let pfR: UInt32 = 4

    // sh_type
    public static let shtNull: UInt32 = 0
    public static let shtProgbits: UInt32 = 1
    public static let shtSymtab: UInt32 = 2
    public static let shtStrtab: UInt32 = 3
    public static let shtRela: UInt32 = 4
    public static let shtHash: UInt32 = 5
    public static let shtDynamic: UInt32 = 6
    public static let shtNote: UInt32 = 7
    public static let shtNobits: UInt32 = 8
    public static let shtDynsym: UInt32 = 11
    public static let shtGnuHash: UInt32 = 0x6fff_fff6
    public static let shtX86_64Unwind: UInt32 = 0x7000_0001
    // sh_flags
    public static let shfWrite: UInt64 = 1
    public static let shfAlloc: UInt64 = 2
    public static let shfExecinstr: UInt64 = 4
    public static let shfCompressed: UInt64 = 0x800
    // Elf64_Chdr (SHF_COMPRESSED) and its ch_type
    public static let compressionHeaderSize = 24
    public static let compressZlib: UInt32 = 1
    public static let compressZstd: UInt32 = 2
    // sh_type
    public static let shtRel: UInt32 = 9
    // x86-64 relocation types (psABI table 4.9) that CFI sections carry
    public static let rX86_64None: UInt32 = 0
    public static let rX86_64_64: UInt32 = 1
    public static let rX86_64PC32: UInt32 = 2
    public static let rX86_64_32: UInt32 = 10
    public static let rX86_64_32S: UInt32 = 11
    public static let rX86_64PC64: UInt32 = 24
    public static let relaEntrySize = 24
    // Special section indices
    public static let shnUndef: UInt16 = 0
    public static let shnAbs: UInt16 = 0xfff1
    public static let shnXindex: UInt16 = 0xffff

    // Symbols
    public static let stbLocal: UInt8 = 0
    public static let stbGlobal: UInt8 = 1
    public static let stbWeak: UInt8 = 2
    public static let sttNotype: UInt8 = 0
    public static let sttObject: UInt8 = 1
    public static let sttFunc: UInt8 = 2
    public static let sttSection: UInt8 = 3

    // Dynamic tags
    public static let dtNull: Int64 = 0
    public static let dtHash: Int64 = 4
    public static let dtStrtab: Int64 = 5
    public static let dtSymtab: Int64 = 6
    public static let dtStrsz: Int64 = 10
    public static let dtSyment: Int64 = 11
    public static let dtSoname: Int64 = 14

    // Note types (owner "CORE" / "LINUX" / "GNU")
    public static let ntPrstatus: UInt32 = 1
    public static let ntPrfpreg: UInt32 = 2
    public static let ntPrpsinfo: UInt32 = 3
    public static let ntAuxv: UInt32 = 6
    public static let ntSiginfo: UInt32 = 0x5349_4749
    public static let ntFile: UInt32 = 0x4649_4c45
    public static let ntX86Xstate: UInt32 = 0x202
    public static let ntGnuBuildID: UInt32 = 3
}
