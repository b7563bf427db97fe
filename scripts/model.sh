#!/bin/sh
# make model: spin checks the vvar's two-counter lock (model/vvar-lock.pml) in every
# interleaving of a writer, an overlapping holder and two readers, and must reject the
# same model with the reader's counter order broken (-DBROKEN). Exit 0 only when both hold.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cp "$root/model/vvar-lock.pml" "$dir/"
cd "$dir"
# Generates and runs the verifier for the model with `$1` (spin's -D options), into `$2`.
verify() {
    spin $1 -a vvar-lock.pml > /dev/null
    cc -O2 -DSAFETY -o pan pan.c
    ./pan > "$2" 2>&1 || true
}
verify "" correct.txt
if ! grep -q "errors: 0" correct.txt; then
    echo "make model: spin found an interleaving where a reader accepts a torn record:"
    cat correct.txt
    exit 1
fi
echo "model: the two-counter lock: $(grep -o '[0-9]* states, stored' correct.txt), errors: 0"
verify -DBROKEN broken.txt
if ! grep -q "assertion violated" broken.txt; then
    echo "make model: spin did not reject the reader that reads the counters in the other order:"
    cat broken.txt
    exit 1
fi
echo "model: the reader with its counters in the other order: rejected, $(grep -o 'assertion violated ([^)]*)' broken.txt | head -1)"
