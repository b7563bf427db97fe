// The end of an address range read from a file or another process's memory, where start +
// length may wrap: a Range property cannot throw, so it saturates at 2^64 - 1 rather than
// trap (parsers that can refuse such a value do, with its offset).

@inline(__always)
func saturatingEnd(_ start: UInt64, _ length: UInt64) -> UInt64 {
    let (end, overflow) = start.addingReportingOverflow(length)
    return overflow ? UInt64.max : end
}
