// The vunwind command line: one subcommand per capability. Bad input (files, cores,
// processes) ends with one line on stderr and exit status 2; see InputFailure.

import ArgumentParser

@main
struct Vunwind: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vunwind",
        abstract: "Make run-time generated code unwindable, and prove it.",
        discussion: "Exit status: 0 success, 1 a check failed, 2 bad input (one line on stderr), 64 usage.",
        subcommands: [CFICommand.self, EmitCommand.self, WalkCommand.self, CoreCommand.self, GcoreCommand.self, TortureCommand.self, BenchCommand.self])
}
