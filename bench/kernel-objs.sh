#!/usr/bin/env bash
# Build real Linux kernel objects (Debian's linux-source-6.12) for orcgen's
# parity checks and benchmarks. Nothing it makes belongs in a repository.
#
# usage: kernel-objs.sh ARCH CC OUTDIR [DIR/ ...]
#   ARCH  x86_64 | arm64
#   CC    gcc | clang        (clang means clang-19 with LLVM=-19)
#   DIRs  kernel source directories to build (default: kernel/ lib/)
#
# x86-64: the kernel's own objtool runs on every object, as in a kernel build
# without IBT or LTO. A wrapper keeps each object twice:
#   NAME.o.pre  as the compiler left it (orcgen's input)
#   NAME.o      after objtool (reference: `SRCARCH=x86 OBJTOOL --dump=orc NAME.o`)
# The objtool that did it is OUTDIR/src/tools/objtool/objtool, and the exact
# objtool arguments of every object are in OUTDIR/objtool-args.log.
# Every object also carries .eh_frame (-fasynchronous-unwind-tables), for the DWARF diff.
#
# CONFIG_EXTRA (environment): more Kconfig switches, e.g. "-e CFI_CLANG" for the
# KCFI slices (clang only), passed to scripts/config before olddefconfig.
# (This is ../shared/corpus/kernel-objs.sh with that one addition.)
set -euo pipefail
[ $# -ge 3 ] || { sed -n 5,11p "$0"; exit 2; }
arch=$1 cc=$2 out=$3; shift 3
dirs=${*:-kernel/ lib/}
need=(flex bison bc libelf-dev libssl-dev cpio kmod linux-source-6.12)
[ "$cc" = clang ] && need+=(clang-19 lld-19 llvm-19)
[ "$arch" = arm64 ] && [ "$cc" = gcc ] && need+=(gcc-aarch64-linux-gnu)
missing=(); for p in "${need[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
mkdir -p "$out"; out=$(cd "$out" && pwd)
[ -d "$out/src" ] || { mkdir -p "$out/src" && tar xf /usr/src/linux-source-6.12.tar.xz -C "$out/src" --strip-components=1; }
cat > "$out/objtool-wrap" <<'W'
#!/bin/sh
for a; do last=$a; done
cp "$last" "$last.pre"
echo "$*" >> "$(dirname "$0")/objtool-args.log"
exec "$(dirname "$0")/src/tools/objtool/objtool" "$@"
W
chmod +x "$out/objtool-wrap"
mk=(make -C "$out/src" -j"$(nproc)" KCFLAGS="-fasynchronous-unwind-tables")
case $arch in
  x86_64) mk+=(ARCH=x86_64);;
  arm64) mk+=(ARCH=arm64); [ "$cc" = gcc ] && mk+=(CROSS_COMPILE=aarch64-linux-gnu-);;
  *) echo "ARCH must be x86_64 or arm64" >&2; exit 2;;
esac
[ "$cc" = clang ] && mk+=(LLVM=-19)
if [ ! -f "$out/src/.config" ]; then
  "${mk[@]}" defconfig >/dev/null
  "$out/src/scripts/config" --file "$out/src/.config" -d X86_KERNEL_IBT -d LTO_CLANG ${CONFIG_EXTRA:-}
  "${mk[@]}" olddefconfig >/dev/null
fi
"${mk[@]}" prepare >/dev/null
# shellcheck disable=SC2086
"${mk[@]}" objtool="$out/objtool-wrap" $dirs >"$out/build.log" 2>&1 || echo "build errors: see $out/build.log" >&2
n=$(find "$out/src" \( -name '*.o' ! -name '*.mod.o' ! -name 'built-in*' ! -path '*/tools/*' ! -path '*/scripts/*' \) | wc -l)
echo "$n objects under $out/src ($arch, $cc)"
