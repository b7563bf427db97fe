// `vunwind walk`: single-step a helper through each subject and judge every walker at
// every instruction against the trampoline's ground truth (StackWalk). The CLI only picks
// the subjects and prints the report.

import ArgumentParser
import DwarfCFI
import FoundationEssentials
import StackWalk
#if canImport(Glibc)
import Glibc
#endif

struct WalkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "walk",
        abstract: "Stop at every instruction of a call and judge every unwinder against ground truth.",
        discussion: """
            Subjects: by default every path of every entry of our page; --subject vdso for the kernel's \
            vDSO exports; --subject 'FILE:SYMBOL(ARG, ...)' for any function of a shared object, with up \
            to six arguments: integers (12, -1, 0x1f), "strings" (\\n \\t \\\\ \\" \\xHH), zeros(N) for a \
            zeroed buffer, cmp_bytes or cmp_ints for a comparator. Repeat --subject for several. \
            Exit status: 0 when every stop passed or failed as declared, 1 when something unexpected \
            happened, 2 for a bad subject (one line), 64 for usage errors.
            """)

    @Option(name: .customLong("subject"), help: "vdso, page, or FILE:SYMBOL(ARGS) (repeatable; default: page).")
    var subjects: [String] = []

    @Option(help: ArgumentHelp("Walk the page over a mutated copy of its CFI: \(CFIMutationKind.allCases.map(\.rawValue).joined(separator: ", ")). Each CFI-reading walker must fail exactly where the mutation changed a row.", valueName: "KIND"))
    var mutate: String?

    @Flag(help: "Do not walk with gdb (one gdb -batch per subject path, the slowest walker).")
    var noGdb = false

    @Flag(help: "Print the report as JSON (keys cells and failures; see the README).")
    var json = false

    func validate() throws {
        if let m = mutate {
            guard CFIMutationKind(rawValue: m) != nil else {
                throw ValidationError("unknown mutation \(m): one of \(CFIMutationKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard subjects.allSatisfy({ $0 == "page" }) else { throw ValidationError("--mutate applies to the page's subjects only") }
        }
    }

    func run() throws {
        var list: [WalkSubject] = []
        for s in subjects.isEmpty ? ["page"] : subjects {
            switch s {
            case "page": list += WalkSubject.page
            case "vdso": list += WalkSubject.vdso
            default:
                do { list.append(try SubjectParser.parse(s)) } catch {
                    InputFailure.report("\(error)")
                    throw InputFailure.exitCode
                }
            }
        }
        let kind = mutate.flatMap(CFIMutationKind.init(rawValue:))
        // The frame-pointer walker reads no CFI: a mutation says nothing about it.
        let walkers = StackWalkTester.remoteWalkers().filter { kind == nil || $0.readsCFI }
        let tester = StackWalkTester(helper: StackWalkTester.defaultHelper(), walkers: walkers)
        tester.mutation = kind
        tester.inProcess = true
        tester.gdb = !noGdb
        tester.euStack = true
        if isatty(2) != 0 {
            tester.progress = { subject, stops in
                if stops % 50 == 0 { InputFailure.progress("walking \(subject.name) \(subject.path): \(stops) stops") }
            }
        }
        let report: WalkReport
        do {
            report = try tester.run(list)
        } catch {
            if isatty(2) != 0 { InputFailure.progress("") }
            InputFailure.report("\(error)")
            throw InputFailure.exitCode
        }
        if isatty(2) != 0 { InputFailure.progress("") }
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            writeStandardOutput(Array(try e.encode(report)) + [0x0a])
        } else {
            writeStandardOutput(Array(WalkReportText.render(report).utf8))
        }
        if !report.passed { throw ExitCode(1) }
    }
}
