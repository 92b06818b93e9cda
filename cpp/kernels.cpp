// One copy of kernels.inc per SIMD level, each compiled for its instruction set with a target
// pragma (never with -march for the whole library), and the run-time table lookup.
#include "kernels.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>

#include "fastexp.hpp"
#include "isa_target.hpp"
#include "linalg.hpp"
#include "warp.hpp"

#if defined(FASTCLNF_X86_KERNELS)
#include <immintrin.h>
#endif

namespace fastclnf {

namespace generic {
#define FCL_W 4
#define FCL_ISA Isa::generic
#include "kernels.inc"
#undef FCL_ISA
#undef FCL_W
}  // namespace generic

#if defined(FASTCLNF_X86_KERNELS)
#define FCL_X86_GATHER 1

FCL_TARGET_PUSH("avx2,fma,bmi,bmi2,popcnt,f16c")
namespace avx2 {
#define FCL_W 8
#define FCL_FMA 1
#define FCL_ISA Isa::avx2
#include "kernels.inc"
#undef FCL_FMA
#undef FCL_ISA
#undef FCL_W
}  // namespace avx2
FCL_TARGET_POP

FCL_TARGET_PUSH("avx2,fma,bmi,bmi2,popcnt,f16c,avx512f,avx512bw,avx512dq,avx512vl")
namespace avx512 {
#define FCL_W 16
#define FCL_FMA 1
#define FCL_ISA Isa::avx512
#include "kernels.inc"
#undef FCL_FMA
#undef FCL_ISA
#undef FCL_W
}  // namespace avx512
FCL_TARGET_POP

#undef FCL_X86_GATHER
#endif

const Kernels& kernels(Isa isa) {
    require_isa(isa);
    switch (isa) {
#if defined(FASTCLNF_X86_KERNELS)
        case Isa::avx2: return avx2::table;
        case Isa::avx512: return avx512::table;
#endif
        default: return generic::table;
    }
}

const Kernels& kernels() {
    static const Kernels& k = kernels(active_isa());
    return k;
}

std::size_t cholesky_scratch_floats(int n) {
    const std::size_t ld = static_cast<std::size_t>(pad16(n) + kPad);
    return 4 * ld * n + 2 * ld + 2 * kPad;  // A (doubles), Lc, Lr, ld doubles (+ slack)
}

std::size_t response_scratch_floats(int pw, int ph, int ws) {
    const std::size_t npad = static_cast<std::size_t>(pad16(ws * ws));
    // r, Sigma r, pw strips of (ws+ph-1) x ws AOI samples plus padding (kernels.inc)
    (void)ph;
    // + patch means and reciprocal norms (+ 2 npad for expert_response_pair's second r, Sigma r)
    const std::size_t base = 6 * npad + static_cast<std::size_t>(pw) * ((ws + pw - 1) * ws + 2 * kPad) + kPad;
    // + the FMA levels' raw_response_fma (its strips fit in the above): column constants, S_k,
    // the single position's patch, 64-byte alignment, per-position sums and constants (floats),
    // sums of squares (doubles), box-sum rows (ws x 48 floats and ws x 48 doubles)
    const std::size_t np = static_cast<std::size_t>(pad16(pw * ph));
    return base + 5 * kPad + np + 4 * (npad + 2 * kPad) + static_cast<std::size_t>(ws) * 3 * 48 + kPad;
}

}  // namespace fastclnf
