#!/bin/sh
# Same-process A/B of the NU-RLMS kernels (mean-shift, normal equations, Cholesky) of two source
# trees, e.g. main against a branch:
#   git worktree add --detach /tmp/base main
#   sh benchmarks/kernel_ab.sh /tmp/base/cpp cpp     # prints per-call microseconds, A/B ratios
# Both trees are compiled with the library's flags (x86-64-v2 baseline, per-level target pragmas,
# no FP contraction) into one executable; kernel_ab.cpp times them interleaved.
set -e
A=$(cd "$1" && pwd); B=$(cd "$2" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${TMPDIR:-/tmp}/fastclnf_kernel_ab.$$
mkdir -p "$OUT"
F="-O3 -std=c++17 -march=x86-64-v2 -ffp-contract=off -fno-math-errno -DFASTCLNF_X86_KERNELS=1"
for side in a b; do
  if [ $side = a ]; then SRC=$A; else SRC=$B; fi
  for f in kernels simd; do
    ${CXX:-g++} $F -I"$SRC" -Dfastclnf=fastclnf_$side -c "$SRC/$f.cpp" -o "$OUT/${side}_$f.o"
  done
  printf '#include "kernels.hpp"\nconst void* kernels_%s() { return &fastclnf::kernels(); }\nstd::size_t chol_scratch_%s(int n) { return fastclnf::cholesky_scratch_floats(n); }\n' \
    $side $side > "$OUT/shim_$side.cpp"
  ${CXX:-g++} $F -I"$SRC" -Dfastclnf=fastclnf_$side -c "$OUT/shim_$side.cpp" -o "$OUT/${side}_shim.o"
done
${CXX:-g++} $F -I"$B" -c "$HERE/kernel_ab.cpp" -o "$OUT/main.o"
${CXX:-g++} "$OUT"/*.o -lpthread -o "$OUT/kernel_ab"
"$OUT/kernel_ab"
rm -rf "$OUT"
