#include "simd.hpp"

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace fastclnf {

bool isa_supported(Isa isa) {
    switch (isa) {
        case Isa::generic:
            return true;
#if defined(FASTCLNF_X86_KERNELS)
        case Isa::avx2:  // the CNN kernels of this level use FMA (every AVX2 CPU has it)
            return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        case Isa::avx512:
            return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                   __builtin_cpu_supports("avx512f") &&
                   __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                   __builtin_cpu_supports("avx512vl");
#endif
        default:
            return false;
    }
}

const char* isa_name(Isa isa) {
    switch (isa) {
        case Isa::avx2: return "avx2";
        case Isa::avx512: return "avx512";
        default: return "generic";
    }
}

Isa parse_isa(const char* name) {
    for (Isa i : {Isa::generic, Isa::avx2, Isa::avx512})
        if (std::strcmp(name, isa_name(i)) == 0) return i;
    throw std::invalid_argument(std::string("unknown SIMD level '") + name +
                                "' (expected generic, avx2 or avx512)");
}

namespace {
Isa detect() {
    Isa best = Isa::generic;
    for (Isa i : {Isa::avx2, Isa::avx512})
        if (isa_supported(i)) best = i;
    if (const char* cap = std::getenv("FASTCLNF_SIMD")) {
        try {
            const Isa want = parse_isa(cap);
            if (static_cast<int>(want) < static_cast<int>(best)) best = want;
        } catch (const std::invalid_argument&) {
            // An unknown value keeps the detected level (the Python side reports it).
        }
    }
    return best;
}
}  // namespace

void require_isa(Isa isa) {
    if (!isa_supported(isa))
        throw std::invalid_argument(std::string("SIMD level ") + isa_name(isa) +
                                    " is not supported on this CPU/build");
}

Isa active_isa() {
    static const Isa isa = detect();  // thread-safe initialisation (C++11 magic static)
    return isa;
}

}  // namespace fastclnf
