// CCNF patch experts: Constrained Local Neural Fields (spec 01 §4-6).
//
// Each landmark has, per scale and view, a small neural "patch expert": K logistic neurons over
// an 11x11 normalised image patch whose weighted sigmoid sum gives a raw response at each
// position of a ws x ws search window; a CCNF edge-potential matrix Sigma (from the betas and the
// file's sigma components) then smooths that map. The result is the response map the KDE
// mean-shift reads.
#pragma once
#include <cstddef>
#include <map>
#include <new>
#include <memory>
#include <vector>

#include "common.hpp"
#include "simd.hpp"

namespace fastclnf {

struct CcnfExpert {
    int K = 0;                   // neurons with alpha > 1e-4 (the others never reach the response)
    std::vector<float> M;        // K x (1 + w*h): [bias, norm_weights*W flattened x-major] (§4.4)
    std::vector<double> alpha;   // K, of the kept neurons
    std::vector<float> two_alpha; // K: float(2 alpha), the sigmoid's numerator (§5.4)
    std::vector<float> wsum;     // K: sum of each neuron's weights M[k][1..] (the FMA-level
                                 // response kernels fold the patch normalisation with it)
    float alpha_sum = 0.f;       // over *all* neurons of the expert, skipped ones included (§5.5)
    std::vector<float> betas;    // B
    float confidence = 0.f;      // patch_confidence
};

struct CcnfScale {
    double patch_scaling = 0.0;
    int n = 0, n_views = 0, pw = 0, ph = 0;
    std::vector<float> view_centres;     // n_views x 3, radians (pitch, yaw, roll)
    std::vector<int> visibility;         // n_views x n
    std::vector<CcnfExpert> experts;     // n_views x n (empty where invisible)
    // window size -> N_s components, each ws^2 x ws^2 row-major
    std::map<int, std::vector<std::vector<float>>> sigma_components;
};

// Minimal 64-byte aligned allocator: a column of a transposed Sigma then starts on a cache line.
template <typename T>
struct Aligned64 {
    using value_type = T;
    Aligned64() = default;
    template <typename U>
    Aligned64(const Aligned64<U>&) {}
    T* allocate(std::size_t n) {
        return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(64)));
    }
    void deallocate(T* p, std::size_t) { ::operator delete(p, std::align_val_t(64)); }
    template <typename U>
    bool operator==(const Aligned64<U>&) const { return true; }
    template <typename U>
    bool operator!=(const Aligned64<U>&) const { return false; }
};
using SigmaT = std::vector<float, Aligned64<float>>;

// Sigma matrices of every (view, landmark) expert of one scale for one window size: (2Q)^-1
// (§5.5). Views are built all at once (build_sigmas), one only (build_sigmas_view), or when a
// fit first needs them (build_sigmas_lazy + ensure_view). A lazy set fills a view under a lock
// and never changes a built one, so one set serves fits on several threads. Move-only.
struct SigmaSet {
    int ws = 0;
    int n_views = 0, n = 0;                 // of the scale it was built for
    // n_views x n, each ws^2 x ws^2 row-major; empty where invisible or the view is not built.
    // (mutable: a lazy set fills the entries of a view when it is first needed.)
    mutable std::vector<std::vector<float>> sigma;
    // The same matrices transposed, 64-byte aligned: sigma_t[v*n+i][c * sigma_stride(ws^2) +
    // row] = Sigma[row][c], plus kPad floats of slack: the layout of the fast kernels.
    // (Empty for an expert whose Sigma another expert of the view holds: alias.)
    mutable std::vector<SigmaT> sigma_t;
    // n_views x n: the entry whose sigma_t expert v*n+i uses (itself unless it shares).
    mutable std::vector<int> alias;
    // n_views x n: per view, the landmarks in the order the responses visit them, the experts
    // sharing one Sigma next to each other (identity until the view is built).
    mutable std::vector<int> order;
    const float* sigma_t_of(std::size_t idx) const { return sigma_t[alias[idx]].data(); }

    SigmaSet();
    ~SigmaSet();
    SigmaSet(SigmaSet&&) noexcept;
    SigmaSet& operator=(SigmaSet&&) noexcept;
    SigmaSet(const SigmaSet&) = delete;
    SigmaSet& operator=(const SigmaSet&) = delete;

    bool view_built(int view) const;
    bool lazy() const;
    // Builds `view` if a lazy set has not built it yet (thread-safe; the experts of the view are
    // spread over up to `threads` threads, 0 = hardware concurrency). Throws
    // std::invalid_argument for a view out of range, or one a non-lazy set did not build.
    void ensure_view(int view, int threads = 0) const;

    struct State;                  // build inputs of a lazy set, built flags, lock
    std::unique_ptr<State> state;
};
SigmaSet build_sigmas(const CcnfScale& scale, int ws);
// Same, but only for the experts of one view (the others stay empty): what a fit that visits a
// single view needs; building all views of a 15x15 window costs seconds.
SigmaSet build_sigmas_view(const CcnfScale& scale, int ws, int view);
// Nothing built yet: views are built by ensure_view() (fit_scale calls it for the view it
// selects). Keeps its own copy of what it needs from `scale`.
SigmaSet build_sigmas_lazy(const CcnfScale& scale, int ws);

// Derived expert data (§4.4) from one expert's file values: K neurons with norm_weights, bias,
// alpha (double, as stored) and K weight matrices of h rows x w columns (float, row = patch y).
CcnfExpert make_expert(int K, const double* norm_weights, const double* bias, const double* alpha,
                       const float* weights, int h, int w, const double* betas, int B,
                       double confidence);

// Sigma = (2Q)^-1 of one expert for window ws (§5.5); components: N_s matrices ws^2 x ws^2
// (N_s may be 0). out: ws^2 x ws^2 row-major. Throws if Q is not positive definite.
void expert_sigma(const CcnfExpert& e, const std::vector<std::vector<float>>* components, int ws,
                  float* out);

// In-place inverse of a symmetric positive-definite float matrix by Cholesky with double
// accumulators (OpenCV's invert(DECOMP_CHOLESKY) arithmetic). a: N x N, replaced by nothing
// useful; inv: N x N. Returns false if a pivot falls below FLT_EPSILON.
bool cholesky_inverse(std::vector<float>& a, int N, float* inv);

// View with the nearest (pitch, yaw, roll) centre; ties to the lowest index (§6).
int view_index(const CcnfScale& scale, float rx, float ry, float rz);

// sim_img_to_ref: 2x2 row-major similarity A mapping image offsets to reference offsets
// (AlignWithScale of spec 01 §5.1, RMS-radius scale quirk included).
std::array<float, 4> align_with_scale(const float* src2n, const float* dst2n, int n);
std::array<float, 4> invert2x2(const std::array<float, 4>& A);

// Area of interest for one landmark: W x W float samples of `img` around (x, y) with the
// similarity (a, -b; b, a), OpenCV-4.x fixed-point 1/32-px sampling, constant-0 border (§5.2).
void warp_aoi(const ImageF& img, float x, float y, float a, float b, int W, float* out);

// Response map of one expert from an AOI of (ws+pw-1)^2 samples: normalised patches, neurons,
// Sigma, negative removal (§5.3-5.6). `sigma` (row-major) may be null (= I / (2 alpha_sum)).
// out: ws x ws. The plain scalar code, kept as the reference the fast path is tested against.
void expert_response_reference(const CcnfExpert& e, int pw, int ph, const float* aoi, int ws,
                               const float* sigma, float* out);
// The stages of expert_response_reference, for tests and diagnostics: the raw sigmoid sum r
// (§5.3-5.4) and Sigma * r before negative removal (§5.5).
void expert_raw_response(const CcnfExpert& e, int pw, int ph, const float* aoi, int ws, float* out);
void apply_sigma(const CcnfExpert& e, const float* sigma, int ws, const float* r, float* out);
// The fast path (kernels.hpp) at SIMD level `isa`: the same map. sigma_t: Sigma in the layout of
// SigmaSet::sigma_t, or null for I / (2 alpha_sum).
void expert_response(const CcnfExpert& e, int pw, int ph, const float* aoi, int ws,
                     const float* sigma_t, float* out, Isa isa = active_isa());
// The raw sigmoid sum of the fast path (ws x ws).
void expert_raw_response_fast(const CcnfExpert& e, int pw, int ph, const float* aoi, int ws,
                              float* out, Isa isa = active_isa());
// Sigma = I / (2 alpha_sum) as the Cholesky route computes it (the missing-window fallback).
float sigma_diagonal(float alpha_sum);

// warp_aoi with exact float bilinear sampling (OpenCV 5 kernels, spec 01 §5.2 second bullet); not
// the reference behaviour, kept to measure the difference.
void warp_aoi_exact(const ImageF& img, float x, float y, float a, float b, int W, float* out);

// All response maps of one scale: maps is n x ws x ws; entries of invisible landmarks are left
// untouched. landmarks2n: current 2-D shape; a, b from sim_ref_to_img (first row quirk). The
// Sigma set must have `view` built. Fast kernels at SIMD level `isa`; `reference` = true runs
// the scalar reference path instead (warp_aoi + expert_response_reference).
void responses(const ImageF& img, const CcnfScale& scale, const SigmaSet& sigmas, int view,
               int ws, const float* landmarks2n, float a, float b, float* maps,
               Isa isa = active_isa(), bool reference = false);
void responses(const ImageU8& img, const CcnfScale& scale, const SigmaSet& sigmas, int view,
               int ws, const float* landmarks2n, float a, float b, float* maps,
               Isa isa = active_isa(), bool reference = false);

}  // namespace fastclnf
