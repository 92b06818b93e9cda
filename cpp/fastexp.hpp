// The float exponential of the neuron sigmoid (spec 01 §5.4), as one fixed sequence of float
// operations that the scalar reference code and every SIMD kernel perform identically, so that
// responses do not depend on the platform's libm and all code paths agree bit for bit.
//
//   x clamped to [-87, 88] (exp stays a normal float; beyond, the sigmoid term is already 0 or
//   2 alpha in float), x = k ln2 + r with k = round(x / ln2) (magic-number rounding), r by
//   Cody-Waite with a 9-bit ln2_hi (k ln2_hi exact), exp(r) - 1 by its Taylor series to r^7
//   (truncation < 5e-9 relative for |r| <= ln2/2), then scaled by 2^k from the exponent bits.
//   Within 1 float ulp of exp over [-87, 88] (tests/test_kernels.py).
#pragma once
#include <cstdint>
#include <cstring>

namespace fastclnf::fastexp {

constexpr float kMaxX = 88.f;
constexpr float kMinX = -87.f;
constexpr float kLog2e = 1.44269504f;
constexpr float kShift = 12582912.f;      // 1.5 * 2^23: x + kShift rounds x to an integer
constexpr std::int32_t kShiftBits = 0x4B400000;
constexpr float kLn2Hi = 0.693359375f;    // 355 / 512
constexpr float kLn2Lo = -2.12194440e-4f;
constexpr float kC7 = 1.f / 5040.f, kC6 = 1.f / 720.f, kC5 = 1.f / 120.f, kC4 = 1.f / 24.f,
                kC3 = 1.f / 6.f, kC2 = 0.5f;

inline float expf(float x) {
    x = x > kMaxX ? kMaxX : x;
    x = x < kMinX ? kMinX : x;
    const float t = x * kLog2e + kShift;
    const float kf = t - kShift;
    const float r = (x - kf * kLn2Hi) - kf * kLn2Lo;
    float p = kC7;
    p = p * r + kC6;
    p = p * r + kC5;
    p = p * r + kC4;
    p = p * r + kC3;
    p = p * r + kC2;
    const float em1 = r + (r * r) * p;
    std::int32_t tb;
    std::memcpy(&tb, &t, sizeof tb);
    const std::int32_t sb = static_cast<std::int32_t>(static_cast<std::uint32_t>(tb - kShiftBits + 127) << 23);
    float s;
    std::memcpy(&s, &sb, sizeof s);
    return (1.f + em1) * s;
}

}  // namespace fastclnf::fastexp
