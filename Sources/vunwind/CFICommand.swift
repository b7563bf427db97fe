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
            Text output follows readelf --debug-dump=frames-interp so the two compare line by line; \
            identical neighbouring rows are merged and rows past an FDE's end are not shown. \
            Malformed input: one line on stderr naming the file and byte offset, exit status 2.
            """)

    @Argument(help: "An ELF64 file (executable, shared library, object, vDSO dump).")
    var file: String?

    @Flag(help: "Read the running kernel's vDSO from this process's memory instead of a file.")
    var vdso = false

    @Flag(help: "Evaluate each CIE and FDE and print its row table.")
    var rows = false

    @Flag(help: "Print the CFIReport JSON model instead of text.")
    var json = false

    func validate() throws {
        guard (file != nil) != vdso else { throw ValidationError("give either FILE or --vdso") }
    }

    func run() throws {
        let subject = file ?? "[vdso]"
        // Everything that reads input happens inside `guarding`, so bad input ends as one
        // line and exit status 2 and nothing reaches stdout first.
        let output: [UInt8] = try InputFailure.guarding(subject) {
            let bytes: [UInt8]
            let name: String
            if let file {
                bytes = try readFile(file)
                name = file
            } else {
                let (address, image) = try VDSOImage.current()
                bytes = image
                name = "[vdso] at 0x\(String(address, radix: 16))"
            }
            let found = try ELFCallFrameSections(elf: try ELFFile(bytes: bytes))
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                return Array(try encoder.encode(try CFIReport(path: name, found: found, rows: rows))) + [0x0a]
            }
            return try CFIText.render(found, rows: rows)
        }
        writeStandardOutput(output)
    }
}
