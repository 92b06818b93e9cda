// Direct ("implicit GEMM") convolution and fully connected kernels of the CNN runner, one copy
// per SIMD level (simd.hpp), chosen at run time. Used by cnn::forward; the im2col + GEMM path of
// cnn.cpp stays as the scalar reference (cnn::forward_reference).
//
// Layout: a map of h × w valid values is stored with row stride rs ≥ w and plane stride ps. A
// valid convolution with stride 1 then reads, for output position p = y·rs + x, the inputs
// p + r·rs + s of every plane: consecutive positions read consecutive inputs for every (c, r, s),
// so no im2col copy is needed. Positions with x ≥ ow ("wrap-around" columns) are computed too and
// ignored; positions are processed in tiles of up to kTile, so planes are padded to kTile and
// buffers carry kSlack readable floats past their last plane.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "simd.hpp"

namespace fastclnf::cnn {

constexpr int kTile = 32;       // largest position tile of any level (2 AVX-512 vectors)
constexpr int kSlack = 2 * kTile;
constexpr int kMaxRows = 12;    // output maps per register tile
constexpr int kActNone = 0, kActReLU = 1, kActPReLU = 2;

constexpr int kWarpGroup = 16;  // CnnKernels::warp takes one triangle per this many samples

inline std::size_t pad_tile(std::size_t n) { return (n + kTile - 1) / kTile * kTile; }

// Output maps are split into row_blocks(M) blocks of nearly equal size ≤ kMaxRows; packed
// weights hold block after block, each K × rows (k = (c·kh + r)·kw + s outer).
inline int row_blocks(int m) { return (m + kMaxRows - 1) / kMaxRows; }
inline int block_rows(int m, int b) {
    const int nb = row_blocks(m);
    return m / nb + (b < m % nb ? 1 : 0);
}

struct ConvArgs {
    const float* in;     // n_in planes, plane stride ps_in, row stride rs
    std::size_t ps_in;
    int rs;
    int n_in, kh, kw;
    int n_out;
    const float* packed;  // see row_blocks
    const float* bias;
    int act;              // kAct*
    const float* slopes;  // per output map (kActPReLU), else null
    float* out;           // n_out planes, plane stride ps_out ≥ pad_tile(n_pos), row stride rs
    std::size_t ps_out;
    int n_pos;            // positions computed per plane: (oh − 1)·rs + ow
    // k = (c·kh + r)·kw + s → c·ps_in + r·rs + s, K = n_in·kh·kw entries: one flat loop over k.
    const std::ptrdiff_t* offsets;
    int K;
    int oh, ow;           // valid output size
    // Scratch for the row-wise schedule (see conv in cnn_kernels.inc), grown on demand; null:
    // the contiguous schedule only.
    std::vector<float>* panel;
    std::vector<std::ptrdiff_t>* panel_offsets;
};

struct CnnKernels {
    void (*conv)(const ConvArgs& a);
    // y_j[o] = bias[o] + Σ_i x_j[i]·W[i][o] for n vectors x_j (stride ldv) into rows of `out`
    // (stride ldo ≥ ldw); W: n_in rows of ldw floats (ldw a multiple of kTile, columns ≥ n_out
    // zero), bias: ldw floats.
    void (*fc)(const float* v, int n, int ldv, const float* W, int ldw, const float* bias, int n_in,
               float* out, int ldo);
    // The CNN validator's standardisation of its n warped pixels f (spec 02 §5.3 steps 2–3):
    // mean and population standard deviation in double (zero → 1), each as eight interleaved
    // partial sums combined pairwise (the mean is exact in any order: the warped values are
    // multiples of 2^-10 below 256), then out = (float((f − mean)/sd) − mean_img)/std_img.
    void (*standardise)(const float* f, int n, const float* mean_img, const float* std_img, float* out);
    // The CNN validator's piecewise-affine warp (spec 02 §5.2 steps 2–3): for j < n (a multiple
    // of kWarpGroup, tri[j] the same within each group of kWarpGroup entries),
    // f[dst[j]] = OpenCV's bilinear remap sample of the 8-bit image `img` (rows × cols, row stride
    // `stride`, constant-0 border) at (mx, my) = (c0 + c1·x + c2·y, c3 + c4·x + c5·y), with
    // c0…c5 = coef[6·tri[j] …] and (x, y) = (x[j], y[j]): map coordinate rounded half to even to
    // 1/32 px, weights the products of the exact 1/32 fractions, taps summed (0,0), (0,1), (1,0),
    // (1,1); no FMA at any level, so every level returns the same floats. May read up to two
    // bytes past the right end of a sampled row (never past the row below it, which exists: the
    // validator's crop ends a row and a column before the image does), never uses them.
    void (*warp)(const float* coef, const int* tri, const float* x, const float* y, const int* dst, int n,
                 const std::uint8_t* img, int rows, int cols, int stride, float* f);
    // Max-pool of c strided maps (h × w valid, row stride rs, plane stride ps) into compact maps
    // (oh × ow, row stride ow, plane stride ps_out), windows clipped to the input as in
    // cnn::max_pool; colmax: w floats of scratch.
    void (*pool)(const float* in, int c, int h, int w, int rs, std::size_t ps, int kx, int ky, int sx, int sy,
                 float* out, int oh, int ow, std::size_t ps_out, float* colmax);
};

const CnnKernels& cnn_kernels(Isa isa);
const CnnKernels& cnn_kernels();  // active_isa()

}  // namespace fastclnf::cnn
