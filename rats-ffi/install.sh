#!/usr/bin/env bash
# Installs librats' C API built by rats: header, shared library (with its SONAME link),
# static library and pkg-config file under a prefix.
#
#   rats-ffi/install.sh PREFIX            builds with `cargo build --release -p rats-ffi`
#   RATS_FFI_LIB_DIR=DIR install.sh PREFIX   installs the libraries already built in DIR
#
# Result: PREFIX/include/librats_c.h and rats.hpp (the C++ wrapper), PREFIX/lib/librats.so.X.Y.Z with the links
# librats.so.0 (the SONAME) and librats.so, PREFIX/lib/librats.a and
# PREFIX/lib/pkgconfig/librats.pc; then `pkg-config --cflags --libs librats` works with
# PKG_CONFIG_PATH=PREFIX/lib/pkgconfig. LIBDIR=... overrides PREFIX/lib.
set -euo pipefail
if [ $# -ne 1 ]; then
    echo "usage: $0 PREFIX" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
prefix=$(cd "$1" && pwd)
libdir=${LIBDIR:-$prefix/lib}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$here/../Cargo.toml" | head -1)
[ -n "$version" ] || { echo "no workspace version in Cargo.toml" >&2; exit 1; }

if [ -n "${RATS_FFI_LIB_DIR:-}" ]; then
    built=$RATS_FFI_LIB_DIR
else
    (cd "$here/.." && cargo build --release -p rats-ffi)
    built=${CARGO_TARGET_DIR:-$here/../target}/release
fi
# Cargo names them after the crate's library (rats_ffi); they install as librats.
for f in librats_ffi.so librats_ffi.a; do
    [ -f "$built/$f" ] || { echo "$built/$f not found" >&2; exit 1; }
done

install -d "$prefix/include" "$libdir/pkgconfig"
install -m 0644 "$here/include/librats_c.h" "$prefix/include/librats_c.h"
install -m 0644 "$here/include/rats.hpp" "$prefix/include/rats.hpp"
install -m 0755 "$built/librats_ffi.so" "$libdir/librats.so.$version"
ln -sf "librats.so.$version" "$libdir/librats.so.0"
ln -sf "librats.so.0" "$libdir/librats.so"
install -m 0644 "$built/librats_ffi.a" "$libdir/librats.a"
sed -e "s|@PREFIX@|$prefix|" -e "s|@LIBDIR@|$libdir|" -e "s|@VERSION@|$version|" \
    "$here/librats.pc.in" > "$libdir/pkgconfig/librats.pc"
echo "installed librats $version under $prefix"
