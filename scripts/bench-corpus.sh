#!/usr/bin/env bash
# End-to-end scan throughput: generate N objects and time `rampart scan --format json` over them
# (release build). With CHECKOV=path/to/checkov set, also times checkov on the same corpus
# (checkov is slow: use N around 1000 for it) and prints objects per second for both.
#
#   scripts/bench-corpus.sh 100000
#   CHECKOV=~/venv/bin/checkov scripts/bench-corpus.sh 1000
set -euo pipefail
n=${1:-100000}
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 scripts/gen-corpus.py "$n" "$dir"
cargo build --release -q -p rampart
bin=${CARGO_TARGET_DIR:-target}/release/rampart
measure() { # prints wall seconds and peak RSS (KiB) of "$@"
  /usr/bin/time -f "%e %M" "$@" >/dev/null 2>"$dir/time" || true
  tail -1 "$dir/time"
}
read -r secs kib < <(measure "$bin" scan "$dir" --format json --no-config)
echo "rampart: $n objects in ${secs}s ($(python3 -c "print(round($n/$secs))") objects/s), peak ${kib} KiB"
if [ -n "${CHECKOV:-}" ]; then
  read -r csecs ckib < <(measure "$CHECKOV" -d "$dir" --framework kubernetes --quiet --compact -o json)
  echo "checkov: $n objects in ${csecs}s ($(python3 -c "print(round($n/$csecs))") objects/s), peak ${ckib} KiB"
  python3 -c "print(f'rampart/checkov throughput: {$csecs/$secs:.0f}x')"
fi
