// SymbolTables: .dynsym/.dynstr and the SysV .hash table for them (gABI "Hash Table"), and
// the same symbols as .symtab/.strtab: what gdb, eu-stack and perf read names from.

import Bytes
import ELF

struct SymbolTables {
    struct Symbol {
        var name: String
        var address: UInt64
        var size: UInt64
    }

    let symbols: [Symbol]
    let soname: String

    /// .dynstr / .strtab: "\0" + names + soname.
    var strings: [UInt8] {
        var w = ByteWriter()
        w.u8(0)
        for s in symbols { w.cString(s.name) }
        w.cString(soname)
        return w.bytes
    }

    func nameOffset(_ i: Int) -> UInt32 {
        var o: UInt32 = 1
        for s in symbols.prefix(i) { o += UInt32(s.name.utf8.count + 1) }
        return o
    }

    var sonameOffset: UInt32 { nameOffset(symbols.count) }

    /// A symbol table: the null symbol, then the functions (global), in section `textIndex`.
    func table(textIndex: UInt16) -> [UInt8] {
        var w = ByteWriter()
        w.zeros(ELF.symbolSize)
        for (i, s) in symbols.enumerated() {
            w.u32(nameOffset(i))
            w.u8(ELF.stbGlobal << 4 | ELF.sttFunc)
            w.u8(0)
            w.u16(textIndex)
            w.u64(s.address)
            w.u64(s.size)
        }
        return w.bytes
    }

    static func elfHash(_ name: String) -> UInt32 {
        var h: UInt32 = 0
        for c in name.utf8 {
            h = (h << 4) &+ UInt32(c)
            let g = h & 0xf000_0000
            if g != 0 { h ^= g >> 24 }
            h &= ~g
        }
        return h
    }

    /// The SysV hash table over the symbol table (index 0 is the null symbol).
    var hash: [UInt8] {
        let nchain = symbols.count + 1
        let nbucket = max(1, symbols.count / 2 + 1)
        var buckets = [UInt32](repeating: 0, count: nbucket)
        var chains = [UInt32](repeating: 0, count: nchain)
        for (i, s) in symbols.enumerated() {
            let index = UInt32(i + 1)
            let b = Int(Self.elfHash(s.name) % UInt32(nbucket))
            // Append to the bucket's chain.
            if buckets[b] == 0 {
                buckets[b] = index
            } else {
                var j = Int(buckets[b])
                while chains[j] != 0 { j = Int(chains[j]) }
                chains[j] = index
            }
        }
        var w = ByteWriter()
        w.u32(UInt32(nbucket)); w.u32(UInt32(nchain))
        for b in buckets { w.u32(b) }
        for c in chains { w.u32(c) }
        return w.bytes
    }
}
