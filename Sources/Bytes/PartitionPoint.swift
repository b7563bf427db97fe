// partitionPoint: binary search over a sorted table (FDE index, rows, symbols, modules).
// Every "last entry starting at or before x" lookup in vunwind is this one search.

extension RandomAccessCollection where Index == Int {
    /// The index of the first element for which `belongsToPrefix` is false, given that it
    /// is true for a prefix of the collection and false for the rest (so, for a table
    /// sorted by start, `partitionPoint { $0.start <= x } - 1` is the last entry starting
    /// at or before x).
    @inlinable
    public func partitionPoint(_ belongsToPrefix: (Element) throws -> Bool) rethrows -> Int {
        var lo = startIndex, hi = endIndex
        while lo < hi {
            let mid = lo + (hi - lo) / 2
            if try belongsToPrefix(self[mid]) { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}
