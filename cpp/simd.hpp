// Run-time selection of the SIMD kernels.
//
// The library is compiled for a portable baseline (x86-64-v2 for wheels). The hot kernels
// (kernels.hpp) are compiled a second and third time for AVX2 and AVX-512 with per-function
// target attributes, and the best level the CPU supports is chosen once at run time
// (__builtin_cpu_supports). The generic level performs the same float operations in the same
// order as the scalar reference code (bit-identical results); the AVX2 and AVX-512 response and
// CNN kernels use fused multiply-adds, within the tolerances their tests state.
#pragma once

namespace fastclnf {

enum class Isa {
    generic = 0,  // baseline compiler vectorisation (SSE4.2 on x86-64-v2, NEON on arm64)
    avx2 = 1,     // 8 float lanes
    avx512 = 2,   // 16 float lanes (AVX-512 F/BW/DQ/VL)
};

// Best level this CPU supports, capped by the environment variable FASTCLNF_SIMD
// (generic | avx2 | avx512) when set; decided once per process.
Isa active_isa();
// Whether this CPU (and this build) can run the given level.
bool isa_supported(Isa isa);
// isa_supported, or std::invalid_argument naming the level (the per-level kernel tables).
void require_isa(Isa isa);
const char* isa_name(Isa isa);
// "generic", "avx2", "avx512" -> Isa; throws std::invalid_argument otherwise.
Isa parse_isa(const char* name);

}  // namespace fastclnf
