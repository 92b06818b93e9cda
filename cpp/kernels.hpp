// The hot inner loops of a fit, one implementation per SIMD level (simd.hpp).
//
// Each kernel performs the float operations of the scalar reference code it replaces, in the
// same order for every output element (sums are vectorised *across* independent outputs, never
// reordered within one). Their results are bit-identical to the reference paths kept in
// ccnf.cpp, meanshift.cpp, nurlms.cpp, pdm.cpp and linalg.hpp (the neuron sigmoid's float exp is
// fastexp.hpp, the same operations in both), with two stated exceptions:
//  * on the FMA levels (avx2, avx512) the CCNF response kernels fuse the multiply-adds of the
//    neuron dot products, the sigmoid's exp polynomial and the Sigma product (one rounding
//    instead of two), divide in the sigmoid by a Newton-refined reciprocal, fold the patch
//    normalisation into the neurons and take the patch statistics from exact box sums
//    (kernels.inc, raw_response_fma): maps within 1e-5 of their maximum of the reference
//    (measured on real faces: median 1.4e-6, worst 4.7e-6; the reference itself is 1.3e-6 from a
//    double evaluation, these maps 1.0e-6); the generic level and every other kernel stay
//    unfused and bit-identical. The scalar reference path keeps the spec's arithmetic and the
//    spec's numbers (spec 01 §8.8) are tested on it;
//  * the likelihoods' double exp is a vectorised exp within 1 ulp of libm's, whose product is
//    then rounded to float (a difference would need a product within 1e-16 of a float rounding
//    boundary; none occurs on the 343 reference faces).
// tests/test_kernels.py checks all of this (zero tolerance where bit-identical).
#pragma once
#include <cstddef>
#include <cstdint>

#include "ccnf.hpp"
#include "common.hpp"
#include "simd.hpp"

namespace fastclnf {

// Positions, rows and columns are padded to multiples of this (the widest vector, 16 floats).
constexpr int kPad = 16;
inline int pad16(int n) { return (n + kPad - 1) / kPad * kPad; }
// Floats between two columns of a transposed Sigma (SigmaSet::sigma_t), N = ws^2: padded with
// zero rows to pad16(N) so that every 16-row load is one aligned cache line (an unpadded column
// straddles lines in nearly every load). It adds 6-30 % to the bytes streamed, yet measured
// ~1 % faster once the experts that share a Sigma read it once (expert_response_pair).
inline int sigma_stride(int N) { return pad16(N); }
// Floats an AOI buffer must stay readable (and writable, for the warp) past its end.
constexpr int kAoiSlack = 2 * kPad;

struct Kernels {
    Isa isa;

    // Response map of one CCNF expert (spec 01 §5.3-5.6), identical to expert_response():
    //   aoi:      (ws+pw-1)^2 samples, readable for kAoiSlack floats past its end;
    //   sigma_t:  Sigma transposed (N = ws^2, sigma_t[c * sigma_stride(N) + row] =
    //             Sigma[row][c]), readable kPad floats past its end, see SigmaSet; or null for
    //             the diagonal sigma_diag * I;
    //   scratch:  response_scratch_floats(pw, ph, ws) floats;
    //   out:      ws^2 floats.
    //   prefetch: prefetch_floats floats to pull into L2 meanwhile (the next expert's Sigma), or
    //             null.
    void (*expert_response)(const CcnfExpert& e, int pw, int ph, const float* aoi, int ws,
                            const float* sigma_t, float sigma_diag, float* scratch, float* out,
                            const float* prefetch, std::size_t prefetch_floats);

    // The raw sigmoid sum r (before Sigma) of expert_response, pad16(ws^2) floats written (the
    // padding positions hold unspecified finite values).
    void (*raw_response)(const CcnfExpert& e, int pw, int ph, const float* aoi, int ws,
                         float* scratch, float* r);

    // AOI warp (warp_aoi of ccnf.hpp) from an 8-bit or float image; m: the 2x3 inverse map.
    // out: W*W floats, writable for kAoiSlack floats past its end.
    void (*warp_u8)(const ImageU8& img, const float* m, int W, float* out);
    void (*warp_f32)(const ImageF& img, const float* m, int W, float* out);

    // mean_shift() of meanshift.hpp on maps stored transposed: maps_t[t * ld + i] is position t
    // of landmark i's map, ld >= n a multiple of kPad (entries i >= n readable, any finite value).
    void (*mean_shift_t)(const float* maps_t, int ld, const int* visible, int n, int ws,
                         const float* dx, const float* dy, const float* grid, float* out_x,
                         float* out_y);

    // Normal equations of a Gauss-Newton step over `rows` residuals and P parameters:
    //   H[a][c] = sum_r Jw[r][a] * J[r][c]  for c <= a (lower triangle; entries c > a up to the
    //             next multiple of kPad are written with the same sums, the rest untouched),
    //   b[a]    = sum_r Jw[r][a] * mu[r],
    // accumulated in float in row order from 0, rows with Jw[r][a] == 0 skipped (as the scalar
    // loops do). J, Jw: rows x P row-major, readable kPad floats past their ends; H: P rows of
    // stride ldh >= pad16(P).
    void (*normal_equations)(const float* Jw, const float* J, const float* mu, int rows, int P,
                             float* H, int ldh, float* b);

    // linalg::cholesky_solve on the lower triangle of H (stride ldh, not modified): the same
    // float/double arithmetic, element by element, with the rows below each pivot as lanes.
    // b: the right-hand side, replaced by the solution (zeros when H is not positive definite,
    // returning false). scratch: cholesky_scratch_floats(n) floats, 8-byte aligned. Below
    // n = 12 it copies the triangle and runs linalg::cholesky_solve itself (faster there).
    bool (*cholesky_solve)(const float* H, int ldh, float* b, int n, float* scratch);

    // S = mean + V q (pdm.cpp's coord3 for every coordinate): out[k] = mean[k] + (sum over
    // modes j ascending of Vt[j * n3 + k] * q[j], from 0). Vt: m rows of n3, readable kPad
    // floats past its end.
    void (*shape3d)(const float* Vt, const float* mean, int n3, int m, const float* q, float* out);

    // likelihoods() of nurlms.hpp on transposed maps (layout of mean_shift_t); the exp is the
    // vectorised double exp (see the top of this file).
    float (*likelihoods_t)(const float* maps_t, int ld, const int* visible, int n, int ws,
                           const float* dx, const float* dy, float sigma, float* out_landmark);

    // The vectorised double exp itself, on n values (for tests).
    void (*exp)(const double* x, int n, double* out);

    // ccnf.hpp cholesky_inverse (Sigma building): a (N x N, overwritten), inv (N x N), acc: N
    // doubles of scratch.
    bool (*cholesky_inverse)(float* a, int N, float* inv, double* acc);

    // The mode columns of the PDM Jacobian (pdm.cpp jacobian_from3d): for each point i and mode
    // j, J[i][6+j] = s * (R0 V[i][j] + R1 V[i+n][j] + R2 V[i+2n][j]) and J[i+n][6+j] likewise with
    // R3..R5. V: 3n x m row-major; J: 2n rows of `cols` floats (nothing else written).
    void (*jacobian_modes)(const float* V, int n, int m, const float* R, float s, float* J, int cols);

    // expert_response() of two experts that share one Sigma (sigma_t), each on its own AOI:
    // the same two maps, with one pass over Sigma. scratch: response_scratch_floats() + 2
    // pad16(ws^2) floats.
    void (*expert_response_pair)(const CcnfExpert& e0, const CcnfExpert& e1, int pw, int ph,
                                 const float* aoi0, const float* aoi1, int ws,
                                 const float* sigma_t, float* scratch, float* out0, float* out1,
                                 const float* prefetch, std::size_t prefetch_floats);
};

std::size_t cholesky_scratch_floats(int n);

// The kernels of one level (must be supported: isa_supported(isa)).
const Kernels& kernels(Isa isa);
// The kernels of active_isa().
const Kernels& kernels();

// Scratch floats expert_response / raw_response need for one call.
std::size_t response_scratch_floats(int pw, int ph, int ws);

}  // namespace fastclnf
