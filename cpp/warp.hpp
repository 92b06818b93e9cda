// Bilinear sampling of a float image the way OpenCV 4.x warpAffine / remap do it (spec 01 §5.2,
// spec 02 §2.3): sample positions quantised to 1/32 px by fixed-point arithmetic, float weights,
// constant-0 border with partial neighbours. Header-only so that other warps (the validator's
// piece-wise affine remap) can share the sampler.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "common.hpp"

namespace fastclnf::warp {

// Arithmetic right shift = floor division by 2^k, as OpenCV relies on for negative coordinates.
static_assert((-1 >> 1) == -1, "arithmetic right shift required");

constexpr int kInterBits = 5;                 // INTER_BITS: 32 sub-pixel steps
constexpr int kInterTab = 1 << kInterBits;    // 32
constexpr int kAbBits = 10;                   // AB_BITS: positions carried as 1/1024 px
constexpr int kAbScale = 1 << kAbBits;        // 1024
constexpr int kRoundDelta = kAbScale / kInterTab / 2;  // 16: rounds 1/1024 to the nearest 1/32

// saturate_cast<int>(double): round half to even (cvRound under the default FP rounding mode),
// clamped to the int range.
inline int round_sat_int(double v) {
    if (!(v == v)) return 0;  // NaN: OpenCV's cvRound gives INT_MIN here; any out-of-image value
                              // would do, 0 keeps the arithmetic below defined.
    if (v >= 2147483647.0) return std::numeric_limits<int>::max();
    if (v <= -2147483648.0) return std::numeric_limits<int>::min();
    return static_cast<int>(std::nearbyint(v));
}

// Integer addition with saturation, so extreme coordinates stay far outside instead of wrapping.
inline int add_sat(int a, int b) {
    const int64_t s = static_cast<int64_t>(a) + b;
    return static_cast<int>(std::clamp<int64_t>(s, std::numeric_limits<int>::min(),
                                                std::numeric_limits<int>::max()));
}

// Pixel value with the constant-0 border (ImageF or ImageU8; 8-bit values convert exactly).
template <typename Image>
inline float pixel_or_zero(const Image& img, int x, int y) {
    if (x < 0 || y < 0 || x >= img.cols || y >= img.rows) return 0.f;
    return static_cast<float>(img.data[static_cast<size_t>(y) * img.stride + x]);
}

// Bilinear sample at the 1/32-px fixed-point position (X32, Y32) = 32 * (x, y).
// The integer part is saturated to int16 (OpenCV stores it as short); weights are the float
// products of {1 - f, f} with f = k/32, all exact; the sum runs top-left, top-right, bottom-left,
// bottom-right in float.
template <typename Image>
inline float sample_q32(const Image& img, int X32, int Y32) {
    const int ix = std::clamp(X32 >> kInterBits, -32768, 32767);
    const int iy = std::clamp(Y32 >> kInterBits, -32768, 32767);
    const float fx = static_cast<float>(X32 & (kInterTab - 1)) * (1.f / kInterTab);
    const float fy = static_cast<float>(Y32 & (kInterTab - 1)) * (1.f / kInterTab);
    // Entirely outside (no neighbour in the image): the border value.
    if (ix >= img.cols || ix + 1 < 0 || iy >= img.rows || iy + 1 < 0) return 0.f;
    const float w00 = (1.f - fy) * (1.f - fx), w01 = (1.f - fy) * fx;
    const float w10 = fy * (1.f - fx), w11 = fy * fx;
    float p00, p01, p10, p11;
    if (ix >= 0 && iy >= 0 && ix + 1 < img.cols && iy + 1 < img.rows) {
        const auto* r0 = img.data + static_cast<size_t>(iy) * img.stride + ix;
        const auto* r1 = r0 + img.stride;
        p00 = static_cast<float>(r0[0]);
        p01 = static_cast<float>(r0[1]);
        p10 = static_cast<float>(r1[0]);
        p11 = static_cast<float>(r1[1]);
    } else {
        p00 = pixel_or_zero(img, ix, iy);
        p01 = pixel_or_zero(img, ix + 1, iy);
        p10 = pixel_or_zero(img, ix, iy + 1);
        p11 = pixel_or_zero(img, ix + 1, iy + 1);
    }
    return p00 * w00 + p01 * w01 + p10 * w10 + p11 * w11;
}

// Exact bilinear sample at float (x, y) as OpenCV 5's warp kernels do (spec 01 §5.2, second
// bullet): v0 = p00 + fx (p01 - p00), v1 = p10 + fx (p11 - p10), v0 + fy (v1 - v0). Same border.
// Not what the reference used; kept to measure the difference.
inline float sample_exact(const ImageF& img, float x, float y) {
    if (!(x == x) || !(y == y)) return 0.f;
    const float flx = std::floor(x), fly = std::floor(y);
    if (flx >= static_cast<float>(img.cols) || flx + 1.f < 0.f || fly >= static_cast<float>(img.rows) ||
        fly + 1.f < 0.f)
        return 0.f;
    const int ix = static_cast<int>(flx), iy = static_cast<int>(fly);
    const float fx = x - flx, fy = y - fly;
    const float p00 = pixel_or_zero(img, ix, iy), p01 = pixel_or_zero(img, ix + 1, iy);
    const float p10 = pixel_or_zero(img, ix, iy + 1), p11 = pixel_or_zero(img, ix + 1, iy + 1);
    const float v0 = p00 + fx * (p01 - p00);
    const float v1 = p10 + fx * (p11 - p10);
    return v0 + fy * (v1 - v0);
}

// Inverse-map affine warp of a W x H destination: dst(u, v) = img(M (u, v, 1)), M a 2x3 float
// matrix (row-major m[6]). OpenCV-4.x fixed point: the matrix entries are promoted to double,
// per row X0 = round(1024 (m01 v + m02)) + 16, per column dX = round(1024 m00 u), and the sample
// position is (X0 + dX) >> 5 in 1/32 px (likewise for y).
template <typename Image>
inline void warp_affine_q32(const Image& img, const float* m, int W, int H, float* out) {
    const double m00 = m[0], m01 = m[1], m02 = m[2], m10 = m[3], m11 = m[4], m12 = m[5];
    std::vector<int> dX(W), dY(W);  // per-column offsets, shared by all rows (as in OpenCV)
    for (int u = 0; u < W; ++u) {
        dX[u] = round_sat_int(m00 * u * kAbScale);
        dY[u] = round_sat_int(m10 * u * kAbScale);
    }
    for (int v = 0; v < H; ++v) {
        const int X0 = add_sat(round_sat_int((m01 * v + m02) * kAbScale), kRoundDelta);
        const int Y0 = add_sat(round_sat_int((m11 * v + m12) * kAbScale), kRoundDelta);
        for (int u = 0; u < W; ++u) {
            const int X = add_sat(X0, dX[u]) >> (kAbBits - kInterBits);
            const int Y = add_sat(Y0, dY[u]) >> (kAbBits - kInterBits);
            out[static_cast<size_t>(v) * W + u] = sample_q32(img, X, Y);
        }
    }
}

// Same warp with exact float positions x = u m00 + v m01 + m02 (OpenCV 5 kernels).
inline void warp_affine_exact(const ImageF& img, const float* m, int W, int H, float* out) {
    for (int v = 0; v < H; ++v)
        for (int u = 0; u < W; ++u) {
            const float x = static_cast<float>(u) * m[0] + static_cast<float>(v) * m[1] + m[2];
            const float y = static_cast<float>(u) * m[3] + static_cast<float>(v) * m[4] + m[5];
            out[static_cast<size_t>(v) * W + u] = sample_exact(img, x, y);
        }
}

}  // namespace fastclnf::warp
