// FCL_TARGET_PUSH("isa,...") ... FCL_TARGET_POP: every function defined between them is compiled
// for the named instruction sets. kernels.cpp and cnn_kernels.cpp include their .inc file once
// per SIMD level between these, so the library itself stays at the portable baseline.
#pragma once

#define FCL_STR(x) #x
#if defined(__clang__)
#define FCL_TARGET_PUSH(isa) \
    _Pragma(FCL_STR(clang attribute push(__attribute__((target(isa))), apply_to = function)))
#define FCL_TARGET_POP _Pragma("clang attribute pop")
#else
#define FCL_TARGET_PUSH(isa) _Pragma("GCC push_options") _Pragma(FCL_STR(GCC target(isa)))
#define FCL_TARGET_POP _Pragma("GCC pop_options")
#endif
