#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# `orcgen compare` over pairs of kernel slices built by bench/kernel-objs.sh (the same
# sources, gcc against clang), and over libfdt (userspace) built by gcc and clang-19.
# Writes OUT/NAME.txt, .json, .html and .time for each pair that exists.
#
# usage: bench/compare-corpora.sh CORPUS OUT [JOBS]
#   CORPUS  directory holding x86-gcc/, x86-clang/ (or x86-clang-cfi/), arm64-gcc/, arm64-clang(-cfi)/
#   JOBS    objects analysed at a time (default 2)
set -euo pipefail
[ $# -ge 2 ] || { sed -n 3,9p "$0"; exit 2; }
corpus=$1 out=$2 jobs=${3:-2}
mkdir -p "$out"
run() {   # NAME A B ARGS...
  local name=$1 a=$2 b=$3; shift 3
  [ -d "$a" ] && [ -d "$b" ] || { echo "skip $name: $a or $b missing" >&2; return 0; }
  echo "== $name: $a vs $b" >&2
  { /usr/bin/time -f "%e s wall, %U s user" nice orcgen compare "$a" "$b" -j "$jobs" --functions \
      --save-json "$out/$name.json" --save-html "$out/$name.html" "$@" > "$out/$name.txt"; } 2> "$out/$name.time" || true
}
for clang in x86-clang x86-clang-cfi; do
  run "x86-gcc-vs-$clang" "$corpus/x86-gcc/src" "$corpus/$clang/src" --suffix .o.pre \
      --label-a gcc --label-b "${clang#x86-}"
done
for clang in arm64-clang arm64-clang-cfi; do
  run "arm64-gcc-vs-$clang" "$corpus/arm64-gcc/src" "$corpus/$clang/src" \
      --glob 'kernel/*.o' --glob 'lib/*.o' --label-a gcc --label-b "${clang#arm64-}"
done
# userspace: libfdt from the kernel tree, -O2 with asynchronous unwind tables
src=$corpus/x86-gcc/src/scripts/dtc/libfdt
if [ -d "$src" ] && command -v gcc >/dev/null && command -v clang-19 >/dev/null; then
  mkdir -p "$out/libfdt/gcc" "$out/libfdt/clang"
  for f in "$src"/*.c; do
    n=$(basename "$f" .c)
    gcc -O2 -fasynchronous-unwind-tables -I"$src" -c "$f" -o "$out/libfdt/gcc/$n.o"
    clang-19 -O2 -fasynchronous-unwind-tables -I"$src" -c "$f" -o "$out/libfdt/clang/$n.o"
  done
  run libfdt "$out/libfdt/gcc" "$out/libfdt/clang" --label-a gcc-12 --label-b clang-19
fi
