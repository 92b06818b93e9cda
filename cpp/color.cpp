#include "color.hpp"

#if defined(__SSSE3__)
#include <immintrin.h>
#endif

namespace fastclnf {

namespace {

inline std::uint8_t gray_of(std::uint32_t b, std::uint32_t g, std::uint32_t r) {
    return static_cast<std::uint8_t>((9798u * r + 19235u * g + 3735u * b + 16384u) >> 15);
}

#if defined(__SSSE3__)
// Four pixels at bytes 0..4C-1 of `w` -> four int32 gray values. The byte shuffles zero-extend
// R, G, B into 16-bit lanes paired for pmaddwd: (R, G) . (9798, 19235) and (B, 1) . (3735, 16384);
// all products and sums are exact in int32, as in the formula.
template <int C>
inline __m128i gray4(__m128i w) {
    const __m128i rg = _mm_setr_epi8(2, -1, 1, -1, C + 2, -1, C + 1, -1, 2 * C + 2, -1, 2 * C + 1,
                                     -1, 3 * C + 2, -1, 3 * C + 1, -1);
    const __m128i b = _mm_setr_epi8(0, -1, -1, -1, C, -1, -1, -1, 2 * C, -1, -1, -1, 3 * C, -1,
                                    -1, -1);
    const __m128i one_hi = _mm_set1_epi32(1 << 16);
    const __m128i k_rg = _mm_set1_epi32((19235 << 16) | 9798);
    const __m128i k_b = _mm_set1_epi32((16384 << 16) | 3735);
    const __m128i s = _mm_add_epi32(
        _mm_madd_epi16(_mm_shuffle_epi8(w, rg), k_rg),
        _mm_madd_epi16(_mm_or_si128(_mm_shuffle_epi8(w, b), one_hi), k_b));
    return _mm_srli_epi32(s, 15);
}

inline void store16(std::uint8_t* d, __m128i a, __m128i b, __m128i c, __m128i e) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d),
                     _mm_packus_epi16(_mm_packs_epi32(a, b), _mm_packs_epi32(c, e)));
}

// 16 pixels per step; returns how many pixels of the row it converted.
int row_bgr_simd(const std::uint8_t* s, int cols, std::uint8_t* d) {
    int x = 0;
    for (; x + 16 <= cols; x += 16) {
        const std::uint8_t* p = s + 3 * x;
        const __m128i v0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        const __m128i v1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16));
        const __m128i v2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 32));
        // Pixels 4k..4k+3 start at byte 12k: bring each group to byte 0.
        store16(d + x, gray4<3>(v0), gray4<3>(_mm_alignr_epi8(v1, v0, 12)),
                gray4<3>(_mm_alignr_epi8(v2, v1, 8)), gray4<3>(_mm_srli_si128(v2, 4)));
    }
    return x;
}

int row_bgra_simd(const std::uint8_t* s, int cols, std::uint8_t* d) {
    int x = 0;
    for (; x + 16 <= cols; x += 16) {
        const __m128i* p = reinterpret_cast<const __m128i*>(s + 4 * x);
        store16(d + x, gray4<4>(_mm_loadu_si128(p)), gray4<4>(_mm_loadu_si128(p + 1)),
                gray4<4>(_mm_loadu_si128(p + 2)), gray4<4>(_mm_loadu_si128(p + 3)));
    }
    return x;
}
#else
int row_bgr_simd(const std::uint8_t*, int, std::uint8_t*) { return 0; }
int row_bgra_simd(const std::uint8_t*, int, std::uint8_t*) { return 0; }
#endif

// Pixels [x0, x1) of one row.
void convert_span(const std::uint8_t* s, int channels, int x0, int x1, std::uint8_t* d) {
    s += static_cast<long>(channels) * x0;
    d += x0;
    const int n = x1 - x0;
    int x = channels == 4 ? row_bgra_simd(s, n, d) : row_bgr_simd(s, n, d);
    for (; x < n; ++x) d[x] = gray_of(s[channels * x], s[channels * x + 1], s[channels * x + 2]);
}

}  // namespace

void bgr_to_gray(const std::uint8_t* src, int rows, int cols, int channels, long src_stride,
                 std::uint8_t* dst) {
    for (int y = 0; y < rows; ++y)
        convert_span(src + y * src_stride, channels, 0, cols, dst + static_cast<long>(y) * cols);
}

LazyGray::LazyGray(const std::uint8_t* src, int rows, int cols, int channels, long src_stride,
                   bool poison)
    : src_(src), rows_(rows), cols_(cols), channels_(channels), src_stride_(src_stride),
      gray_(new std::uint8_t[static_cast<std::size_t>(rows) * cols]),
      lo_(static_cast<std::size_t>(rows), 0), hi_(static_cast<std::size_t>(rows), 0) {
    if (poison)
        for (std::size_t i = 0, e = static_cast<std::size_t>(rows) * cols; i < e; ++i)
            gray_[i] = static_cast<std::uint8_t>(0xA5 ^ (i * 131));
}

void LazyGray::ensure(int x0, int y0, int x1, int y1) {
    x0 = x0 < 0 ? 0 : x0;
    y0 = y0 < 0 ? 0 : y0;
    x1 = x1 > cols_ ? cols_ : x1;
    y1 = y1 > rows_ ? rows_ : y1;
    if (x0 >= x1 || y0 >= y1) return;
    for (int y = y0; y < y1; ++y) {
        int& lo = lo_[y];
        int& hi = hi_[y];
        const std::uint8_t* s = src_ + y * src_stride_;
        std::uint8_t* d = gray_.get() + static_cast<long>(y) * cols_;
        if (lo == hi) {  // nothing converted in this row yet
            convert_span(s, channels_, x0, x1, d);
            converted_ += x1 - x0;
            lo = x0;
            hi = x1;
            continue;
        }
        if (x0 < lo) {  // also fills a gap between the request and the interval
            convert_span(s, channels_, x0, lo, d);
            converted_ += lo - x0;
            lo = x0;
        }
        if (x1 > hi) {
            convert_span(s, channels_, hi, x1, d);
            converted_ += x1 - hi;
            hi = x1;
        }
    }
}

}  // namespace fastclnf
