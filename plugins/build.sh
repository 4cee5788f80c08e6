#!/bin/sh
# Builds the plugin SDK, the plugins and the test plugins into OUT
# (default target/plugins) as .wasm files:
#   http_status.wasm dns_answer.wasm        the plugins (Rust, with the SDK)
#   up.wasm                                 test plugin that reports up (Rust)
#   spin.wasm hog.wasm trap.wasm
#   bad_result.wasm abi_v2.wasm             containment test plugins (C)
# Uses Debian's rustc (libstd-rust-dev-wasm32 provides the wasm32 target;
# rustup's toolchain may lack it) and clang with lld for the C plugins.
# Override with RUSTC=... CLANG=...
set -eu

root=$(cd "$(dirname "$0")" && pwd)
out=${1:-"$root/../target/plugins"}
RUSTC=${RUSTC:-/usr/bin/rustc}
CLANG=${CLANG:-clang}
target=wasm32-unknown-unknown

mkdir -p "$out"

"$RUSTC" --edition 2018 --crate-type rlib --crate-name wanc_sdk --target "$target" -O \
    -o "$out/libwanc_sdk.rlib" "$root/sdk/lib.rs"

rust_plugin() { # NAME SOURCE
    "$RUSTC" --edition 2018 --crate-type cdylib --crate-name "$1" --target "$target" -O \
        -C strip=debuginfo --extern wanc_sdk="$out/libwanc_sdk.rlib" -L "$out" \
        -o "$out/$1.wasm" "$2"
}

rust_plugin http_status "$root/http_status/lib.rs"
rust_plugin dns_answer "$root/dns_answer/lib.rs"
rust_plugin up "$root/tests/up.rs"

for name in spin hog trap bad_result abi_v2; do
    "$CLANG" --target=wasm32 -nostdlib -O2 -Wl,--no-entry \
        -o "$out/$name.wasm" "$root/tests/$name.c"
done
