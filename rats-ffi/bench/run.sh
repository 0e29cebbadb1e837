#!/usr/bin/env bash
# rats-ffi's benchmark: builds (release) the C benchmark (c_bench.c, through librats.so's C
# API) and the Rust one (examples/rust_bench.rs, through rats' Rust API), runs them in turns
# (ROUNDS times each, C first), and prints each side's median and the C/Rust ratio.
# It prints numbers; it asserts nothing about them.
#
#   rats-ffi/bench/run.sh [--secs S] [--mib N] [--size BYTES]    (ROUNDS=3 by default)
#
# Defaults: --secs 3 (64-byte messages for about 3 s after 20000 warm-up messages),
# --mib 1024 (1 MiB messages), --size 64.
#
# CARGO_TARGET_DIR is honoured; CC picks the C compiler (default cc).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
crate="$(dirname "$here")"
cd "$crate"
rounds="${ROUNDS:-3}"
target="${CARGO_TARGET_DIR:-$(cargo metadata -q --no-deps --format-version 1 |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')}"

echo "== building (release): librats.so and examples/rust_bench" >&2
cargo build -q --release -p rats-ffi --lib --example rust_bench

# librats.so / librats.so.0 (the SONAME) pointing at the built library, as installed.
libdir="$target/release/bench-lib"
mkdir -p "$libdir"
for name in librats.so librats.so.0; do
    ln -sf "$target/release/librats_ffi.so" "$libdir/$name"
done
c_bin="$target/release/bench-lib/c_bench"
"${CC:-cc}" -std=c11 -O2 -Wall -Wextra -Werror -pthread -I "$crate/include" \
    "$here/c_bench.c" -o "$c_bin" -L "$libdir" -lrats -Wl,-rpath,"$libdir"
rust_bin="$target/release/examples/rust_bench"

results="$(mktemp)"
trap 'rm -f "$results"' EXIT
for round in $(seq 1 "$rounds"); do
    echo "== round $round/$rounds: C" >&2
    "$c_bin" "$@" | tee -a "$results" >&2
    echo "== round $round/$rounds: Rust" >&2
    "$rust_bin" "$@" | tee -a "$results" >&2
done

python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
errors = [r for r in rows if "error" in r]
for e in errors:
    print(f"error ({e['api']}): {e['error']}")
def median(api, scenario, key, method=None):
    vals = [r[key] for r in rows if r.get("api") == api and r.get("scenario") == scenario
            and (method is None or r.get("method") == method)]
    return statistics.median(vals) if vals else None
size = next((r["size"] for r in rows if r.get("scenario") == "messages"), 64)
mib = next((r["mib"] for r in rows if r.get("scenario") == "throughput"), 0)
n = len([r for r in rows if r.get("api") == "c" and r.get("scenario") == "messages"])
lines = [
    (f"{size}-byte msgs/s (Rust: binary_sender, rats-bench)", "messages", "msgs_per_s", "binary_sender", "{:,.0f}"),
    (f"{size}-byte msgs/s (Rust: send_binary)", "messages", "msgs_per_s", "send_binary", "{:,.0f}"),
    (f"1 MiB x {mib} throughput MiB/s", "throughput", "mib_per_s", None, "{:,.1f}"),
    ("1 MiB receive MiB/s", "throughput", "receive_mib_per_s", None, "{:,.1f}"),
]
print(f"\nmedians of {n} round(s); C through librats.so's C API, Rust through rats' Rust API")
print(f"{'measure':<50} {'C':>12} {'Rust':>12} {'C/Rust':>8}")
for label, scenario, key, method, fmt in lines:
    c = median("c", scenario, key)
    r = median("rust", scenario, key, method)
    if c is None or r is None:
        continue
    ratio = f"{100 * c / r:.0f} %" if r else "-"
    print(f"{label:<50} {fmt.format(c):>12} {fmt.format(r):>12} {ratio:>8}")
sys.exit(1 if errors else 0)
PY
