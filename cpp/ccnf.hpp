// CCNF patch experts: Constrained Local Neural Fields (spec 01 §4-6).
//
// Each landmark has, per scale and view, a small neural "patch expert": K logistic neurons over
// an 11x11 normalised image patch whose weighted sigmoid sum gives a raw response at each
// position of a ws x ws search window; a CCNF edge-potential matrix Sigma (from the betas and the
// file's sigma components) then smooths that map. The result is the response map the KDE
// mean-shift reads.
#pragma once
#include <map>
#include <vector>

#include "common.hpp"

namespace fastclnf {

struct CcnfExpert {
    int K = 0;                   // neurons with alpha > 1e-4 (the others never reach the response)
    std::vector<float> M;        // K x (1 + w*h): [bias, norm_weights*W flattened x-major] (§4.4)
    std::vector<double> alpha;   // K, of the kept neurons
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

// Sigma matrices of every (view, landmark) expert for one window size: (2Q)^-1 (§5.5). Built once
// per (scale, ws) when a schedule first needs it and then passed in read-only.
struct SigmaSet {
    int ws = 0;
    int n_views = 0, n = 0;                 // of the scale it was built for
    std::vector<std::vector<float>> sigma;  // n_views x n, each ws^2 x ws^2 (empty if invisible)
};
SigmaSet build_sigmas(const CcnfScale& scale, int ws);
// Same, but only for the experts of one view (the others stay empty): what a fit that visits a
// single view needs; building all views of a 15x15 window costs seconds.
SigmaSet build_sigmas_view(const CcnfScale& scale, int ws, int view);

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
// Sigma, negative removal (§5.3-5.6). `sigma` may be null (= I / (2 alpha_sum)). out: ws x ws.
void expert_response(const CcnfExpert& e, int pw, int ph, const float* aoi, int ws,
                     const float* sigma, float* out);
// The stages of expert_response, for tests and diagnostics: the raw sigmoid sum r (§5.3-5.4) and
// Sigma * r before negative removal (§5.5).
void expert_raw_response(const CcnfExpert& e, int pw, int ph, const float* aoi, int ws, float* out);
void apply_sigma(const CcnfExpert& e, const float* sigma, int ws, const float* r, float* out);

// warp_aoi with exact float bilinear sampling (OpenCV 5 kernels, spec 01 §5.2 second bullet); not
// the reference behaviour, kept to measure the difference.
void warp_aoi_exact(const ImageF& img, float x, float y, float a, float b, int W, float* out);

// All response maps of one scale: maps is n x ws x ws; entries of invisible landmarks are left
// untouched. landmarks2n: current 2-D shape; a, b from sim_ref_to_img (first row quirk).
void responses(const ImageF& img, const CcnfScale& scale, const SigmaSet& sigmas, int view,
               int ws, const float* landmarks2n, float a, float b, float* maps);

}  // namespace fastclnf
