// One copy of cnn_kernels.inc per SIMD level (compiled with a target pragma, like kernels.cpp)
// and the run-time choice.
#include "cnn_kernels.hpp"
#include "isa_target.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#if defined(FASTCLNF_X86_KERNELS)
#include <immintrin.h>
#endif

namespace fastclnf::cnn {

namespace generic {
#define FCL_W 4
#define FCL_FMA 0
#include "cnn_kernels.inc"
#undef FCL_FMA
#undef FCL_W
}  // namespace generic

#if defined(FASTCLNF_X86_KERNELS)
FCL_TARGET_PUSH("avx2,fma,bmi,bmi2,popcnt,f16c")
namespace avx2 {
#define FCL_W 8
#define FCL_FMA 1
#include "cnn_kernels.inc"
#undef FCL_FMA
#undef FCL_W
}  // namespace avx2
FCL_TARGET_POP

FCL_TARGET_PUSH("avx2,fma,bmi,bmi2,popcnt,f16c,avx512f,avx512bw,avx512dq,avx512vl")
namespace avx512 {
#define FCL_W 16
#define FCL_FMA 1
#include "cnn_kernels.inc"
#undef FCL_FMA
#undef FCL_W
}  // namespace avx512
FCL_TARGET_POP
#endif

const CnnKernels& cnn_kernels(Isa isa) {
    require_isa(isa);
    switch (isa) {
#if defined(FASTCLNF_X86_KERNELS)
        case Isa::avx2: return avx2::table;
        case Isa::avx512: return avx512::table;
#endif
        default: return generic::table;
    }
}

const CnnKernels& cnn_kernels() {
    static const CnnKernels& k = cnn_kernels(active_isa());
    return k;
}

}  // namespace fastclnf::cnn
