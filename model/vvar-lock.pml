/* The vvar's two-counter lock, as built (Sources/CVunwind/vvar.c for the writer, the
 * readers emitted by Sources/Vsyscall/Entries), for spin: `make model`.
 *
 * The writer (the timekeeper) opens a section by bumping sequence1, stores the record,
 * and closes it by bumping sequence2. A holder (Vsyscall's holdingWriteSection, for tests
 * of readers) opens and closes a section of its own, stores nothing, and may overlap the
 * writer's: both counters are atomic increments. A reader reads sequence2, the record,
 * then sequence1, and accepts the record only if the two counters are equal; otherwise it
 * tries again, a bounded number of times, and then takes the syscall instead (not
 * modelled: its answer is the kernel's).
 *
 * Proved: an accepted record is never torn (both words from the same update), in every
 * interleaving. x86-64 keeps stores in order and loads in order (and the writer's
 * release fences keep the compiler from reordering), so the sequentially consistent
 * interleavings spin explores are the ones the machine can produce.
 *
 * -DBROKEN reads the counters in the other order (sequence1, record, sequence2): a reader
 * that starts inside a section and finishes after it closes accepts a torn record, and
 * spin must find that interleaving.
 */

#define UPDATES 2
#define RETRIES 3

byte seq1 = 0;
byte seq2 = 0;
byte d1 = 0;   /* the record: two words, each holding the update's number */
byte d2 = 0;

active proctype writer() {
    byte v = 0;
    do
    :: v < UPDATES ->
        v++;
        seq1++;          /* vu_vvar_write_begin */
        d1 = v;
        d2 = v;
        seq2++           /* vu_vvar_write_end */
    :: else -> break
    od
}

active proctype holder() {
    seq1++;
    seq2++
}

active [2] proctype reader() {
    byte r1, r2, a, b;
    byte tries = 0;
    do
    :: tries < RETRIES ->
#ifdef BROKEN
        r1 = seq1; a = d1; b = d2; r2 = seq2;
#else
        r2 = seq2; a = d1; b = d2; r1 = seq1;
#endif
        if
        :: r1 == r2 -> assert(a == b); break
        :: else -> tries++
        fi
    :: else -> break
    od
}
