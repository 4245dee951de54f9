#!/usr/bin/env bash
# Build a complete x86-64 defconfig kernel from Debian's linux-source-6.12, with a
# chosen objtool, reproducibly, for comparing objtool and orcgen-objtool builds.
#
# usage: defconfig-build.sh OUTDIR objtool|orcgen [ibt|noibt]
#
# FROM=DIR (environment): start from a copy of a finished build DIR instead of
# an empty object tree; make then redoes exactly what the other objtool changes
# (kbuild records each command line, the objtool path included).  With IBT,
# objtool runs only at link time, so an orcgen build from an objtool build's
# copy re-links vmlinux.o and everything after it.
#
# OUTDIR/src is the tree (unpacked once), OUTDIR/BUILD-NAME the object tree
# (make O=...), so several builds share one source.  The objtool used is a
# wrapper that keeps every input: NAME.pre beside each object it rewrites
# (vmlinux.o included) and its arguments in BUILD/objtool-args.log, so that
# bench/objtool_tables_parity.py can compare orcgen on exactly objtool's inputs.
# CCACHE=1 (environment): compile through Debian's ccache (CC="ccache gcc"), so the
# second build of a configuration (the other objtool) recompiles nothing; ccache
# returns the compiler's own output, before objtool runs, so the objtool under
# test still sees and rewrites every object.  Use it for both builds of a pair.
# Reproducible: KBUILD_BUILD_TIMESTAMP/USER/HOST and the build version are fixed,
# so two builds that differ only in their objtool give vmlinux files that `cmp` equal.
set -euo pipefail
[ $# -ge 2 ] || { sed -n 5,6p "$0"; exit 2; }
out=$1 tool=$2 ibt=${3:-ibt}
need=(flex bison bc libelf-dev libssl-dev cpio kmod linux-source-6.12 linux-kbuild-6.12.117+deb12)
[ -n "${CCACHE:-}" ] && need+=(ccache)
missing=(); for p in "${need[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
mkdir -p "$out"; out=$(cd "$out" && pwd)
[ -d "$out/src" ] || { mkdir -p "$out/src" && tar xf /usr/src/linux-source-6.12.tar.xz -C "$out/src" --strip-components=1; }
build="$out/$tool-$ibt"
if [ -n "${FROM:-}" ] && [ ! -d "$build" ]; then
  cp -a "$FROM" "$build"
  rm -f "$build/objtool-args.log"
fi
mkdir -p "$build"
case $tool in
  objtool) real="$build/tools/objtool/objtool";;   # the tree's own, as kbuild builds it
  orcgen) real=$(command -v orcgen-objtool) || { echo "orcgen-objtool not on PATH" >&2; exit 2; };;
  *) echo "tool must be objtool or orcgen" >&2; exit 2;;
esac
cat > "$build/objtool-wrap" <<W
#!/bin/sh
for a; do last=\$a; done
[ -f "\$last" ] && cp "\$last" "\$last.pre"
echo "\$*" >> "$build/objtool-args.log"
exec $real "\$@"
W
chmod +x "$build/objtool-wrap"
export KBUILD_BUILD_TIMESTAMP="2026-01-01 00:00:00" KBUILD_BUILD_USER=orcgen KBUILD_BUILD_HOST=orcgen KBUILD_BUILD_VERSION=1
mk=(make -C "$out/src" O="$build" -j"$(nproc)" ARCH=x86_64)
[ -n "${CCACHE:-}" ] && mk+=(CC="ccache gcc")
if [ ! -f "$build/.config" ]; then
  "${mk[@]}" defconfig >/dev/null
  [ "$ibt" = noibt ] && "$out/src/scripts/config" --file "$build/.config" -d X86_KERNEL_IBT
  "${mk[@]}" olddefconfig >/dev/null
fi
# objtool itself is built by kbuild (tools/objtool) before it is used; the
# orcgen build still builds it (other host tools depend on the tree) but runs orcgen.
start=$(date +%s)
"${mk[@]}" objtool="$build/objtool-wrap" bzImage >"$build/build.log" 2>&1 || { echo "build failed: see $build/build.log" >&2; exit 1; }
echo "$tool $ibt: built in $(( $(date +%s) - start )) s: $build/vmlinux $build/arch/x86/boot/bzImage"
