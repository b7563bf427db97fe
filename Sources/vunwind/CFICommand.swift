// `vunwind cfi FILE`: the CIEs and FDEs of an ELF file's .eh_frame and .debug_frame, and
// with --rows the evaluated unwind table of each, laid out like
// `readelf --debug-dump=frames-interp` (text) or as the CFIReport JSON model (--json).

import ArgumentParser
import Bytes
import DwarfCFI
import ELF
import FoundationEssentials
import Unwind

struct CFICommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cfi",
        abstract: "List the call frame information of an ELF file.",
        discussion: """
            Text output follows readelf --debug-dump=frames-interp so the two compare line by line, \
            row for row: a row at every advance of the location and one at the end of each FDE. \
            Compressed sections (SHF_COMPRESSED zlib or zstd, .zdebug_frame) are decompressed, and \
            a relocatable object's relocations applied, as readelf does. \
            Malformed input: one line on stderr naming the file and byte offset, exit status 2.
            """)

    @Argument(help: "An ELF64 file (executable, shared library, object, vDSO dump).")
    var file: String?

    @Flag(help: "Read the running kernel's vDSO from this process's memory instead of a file.")
    var vdso = false

    @Flag(help: "Evaluate each CIE and FDE and print its row table.")
    var rows = false

    @Flag(help: "With --rows: merge neighbouring rows with the same rules and leave out rows at or past an FDE's end (the table a lookup sees).")
    var merge = false

    @Flag(help: "Print the CFIReport JSON model instead of text.")
    var json = false

    func validate() throws {
        guard (file != nil) != vdso else { throw ValidationError("give either FILE or --vdso") }
    }

    func run() throws {
        let subject = file ?? "[vdso]"
        // Everything that reads input happens inside `guarding`, so bad input ends as one
        // line and exit status 2, and nothing reaches stdout first unless the listing is
        // longer than CFIText.heldBytes (then what came before the error is printed, as
        // readelf prints it).
        let output: [UInt8] = try InputFailure.guarding(subject) {
            let elf: ELFFile
            let name: String
            if let file {
                // Read on demand: only the headers and the CFI sections, not the whole file
                // (libraries run to hundreds of MB; their CFI to a few).
                elf = try ELFFile(source: try FileByteSource(path: file))
                name = file
            } else {
                let (address, image) = try VDSOImage.current()
                elf = try ELFFile(bytes: image)
                name = "[vdso] at 0x\(String(address, radix: 16))"
            }
            let found = try ELFCallFrameSections(elf: elf)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                return Array(try encoder.encode(try CFIReport(path: name, found: found, rows: rows, grouping: merge ? .merged : .asListed))) + [0x0a]
            }
            return try CFIText.render(found, rows: rows, grouping: merge ? .merged : .asListed,
                                      spill: writeStandardOutput)
        }
        writeStandardOutput(output)
    }
}
