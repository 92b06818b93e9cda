// NU-RLMS: non-uniform regularised landmark mean-shift (spec 02 §2).
//
// Given the response maps of one scale, each iteration mean-shifts every landmark towards the
// KDE-smoothed peak of its map and solves a (weighted, regularised) Gauss-Newton step of the PDM
// parameters towards those shifts. A scale runs a rigid phase (pose only) and then a non-rigid
// phase (pose + shape), both measuring offsets against the shape the maps were computed at.
#pragma once
#include <vector>

#include "ccnf.hpp"
#include "kernels.hpp"
#include "pdm.hpp"

namespace fastclnf {

// Per-scale settings, already adjusted for the scale (spec 02 §1.4).
struct ScaleSettings {
    int ws = 11;            // response window size
    int iterations = 5;     // max iterations per phase
    float sigma = 1.5f;     // KDE sigma
    float reg = 25.f;       // shape regularisation
    float weight = 0.f;     // NU-RLMS weight factor (0: plain RLMS, W = I)
    bool likelihood = false;  // compute likelihoods after the non-rigid phase
    // ... or only when the PDM scale ends below `likelihood_below_scale` (a schedule that keeps
    // just the last visited scale's likelihood needs it from an earlier scale only when it stops
    // there because the face became too small); 0 = never.
    float likelihood_below_scale = 0.f;
};

struct ScaleResult {
    int view = 0;
    int rigid_iterations = 0;     // updates applied in the rigid phase
    int nonrigid_iterations = 0;  // updates applied in the non-rigid phase
    bool converged = false;       // non-rigid phase stopped on the 0.01 px test
    bool has_likelihood = false;  // the likelihoods below were computed
    float model_likelihood = 0.f;
    std::vector<float> landmark_likelihoods;  // n
};

// Inputs of one NU-RLMS phase that stay fixed while it iterates.
struct PhaseInputs {
    const Pdm* pdm = nullptr;
    const float* maps = nullptr;   // n x ws x ws
    const float* maps_t = nullptr; // the same transposed, maps_t[t * ld + i] (fast path)
    int ld = 0;
    const Kernels* kernels = nullptr;  // null: the scalar reference loops
    const int* visible = nullptr;  // n
    const float* confidence = nullptr;  // n patch confidences (used when weight > 0)
    const float* base = nullptr;   // 2n shape the maps were computed at
    std::array<float, 4> A{};      // sim_img_to_ref
    std::array<float, 4> Ainv{};   // sim_ref_to_img
    const float* grid = nullptr;   // KDE table for ws and sigma
};

struct PhaseOutput {
    int updates = 0;
    bool converged = false;
    std::vector<float> dx, dy;     // map positions of the last executed iteration (unclamped)
};

// One rigid or non-rigid phase, updating g and q in place.
PhaseOutput nurlms_phase(const PhaseInputs& in, const ScaleSettings& s, bool rigid, Global& g,
                         float* q);

// Likelihoods from the exact Gaussian at the last iteration's positions (spec 02 §2.8).
float likelihoods(const float* maps, const int* visible, int n, int ws, const float* dx,
                  const float* dy, float sigma, float* out_landmark);

// How fit_scale computes: SIMD level of the fast kernels, or the scalar reference code
// throughout (responses, mean-shift, normal equations), for tests and speed comparisons.
struct FitOptions {
    Isa isa = active_isa();
    bool reference = false;
};

// One scale of the fit: view, similarity transforms, response maps at the current parameters,
// rigid then non-rigid phase (spec 02 §2.2 steps 2-6). `grid` is kde_grid(ws, -0.5/sigma^2).
// A lazy Sigma set gets the selected view built here (SigmaSet::ensure_view).
ScaleResult fit_scale(const ImageF& img, const Pdm& pdm, const CcnfScale& scale,
                      const SigmaSet& sigmas, const float* grid, const ScaleSettings& s,
                      Global& g, float* q, const FitOptions& opt = {});
ScaleResult fit_scale(const ImageU8& img, const Pdm& pdm, const CcnfScale& scale,
                      const SigmaSet& sigmas, const float* grid, const ScaleSettings& s,
                      Global& g, float* q, const FitOptions& opt = {});

}  // namespace fastclnf
