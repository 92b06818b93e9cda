// The per-fit schedule of spec 02 §2.1-2.2 and §4 as data, run in one call: the scale loop of the
// main model, then the hierarchical part models (inner face, eyes) and the refit of the main PDM
// to the merged points. python/fastclnf/fit.py builds the Schedule from the presets (per-scale
// sigma, regularisation, weights, windows) and keeps the same loop in Python as the readable
// reference; this is the same loop without a Python round trip per scale.
#pragma once
#include <array>
#include <vector>

#include "ccnf.hpp"
#include "nurlms.hpp"
#include "pdm.hpp"

namespace fastclnf {

// One visited scale of one model: its patch experts, Sigma set and KDE grid for the window, and
// the settings already adjusted for the scale (spec 02 §1.4).
struct ScaleStep {
    int scale_index = 0;  // index of the patch-expert scale (reported when the face is too small)
    const CcnfScale* scale = nullptr;
    const SigmaSet* sigmas = nullptr;
    const float* grid = nullptr;  // kde_grid(ws, -0.5 / sigma^2)
    ScaleSettings settings;
};

// The scale loop of one model (spec 02 §2.2): the steps in order.
struct ModelSchedule {
    const Pdm* pdm = nullptr;
    std::vector<ScaleStep> steps;
};

// A hierarchical part (spec 02 §4): its model, which main landmark feeds which part landmark,
// and the main-model scale above which it is fitted (0.9 x its first patch scaling); below it the
// part only renders its PDM fitted to the mapped points. When no part is fitted, that PDM fit
// (~0.14 ms for the inner face, ~20 us per eye) is skipped and the part reported `deferred`:
// nothing downstream uses it, and the caller can compute it from the final main landmarks,
// which are then the ones it would have used.
struct PartSchedule {
    ModelSchedule model;
    std::vector<std::array<int, 2>> mapping;  // (main index, part index)
    double fit_above_scale = 0.0;  // compared with the float scale promoted to double
};

struct Schedule {
    ModelSchedule main;
    std::vector<PartSchedule> parts;  // file order; empty = no hierarchical refinement
};

struct ModelFit {
    Global g{};
    std::vector<float> q;
    std::vector<float> landmarks;  // 2n
    bool fitted = true;            // parts: scale loop run (else PDM rendered from the mapping)
    bool deferred = false;         // parts: not fitted and not computed (no part was fitted)
    bool fit_success = true;       // false: PDM scale fell below 0.25 (failed_scale says where)
    int failed_scale = -1;
    bool converged = false;        // of the last visited scale
    int iterations = 0;            // NU-RLMS updates over all visited scales
    int view = 0;                  // of the last visited scale
    bool has_likelihood = false;   // a scale was visited
    float likelihood = -10.f;      // of the last visited scale (spec 02 §2.2)
    std::vector<float> landmark_likelihoods;
};

struct FitOutcome {
    ModelFit main;          // after the part refit when any part was fitted
    bool refitted = false;  // the main PDM was refitted to the merged points
    std::vector<ModelFit> parts;
};

// Scale loop of one model from (g, q) (python: fit.run_schedule).
template <typename Image>
ModelFit run_schedule(const Image& img, const ModelSchedule& s, const Global& g,
                      const std::vector<float>& q, const FitOptions& opt = {});

// A part that is not fitted (spec 02 §4 step 3 "otherwise"): its PDM fitted to the mapped main
// landmarks (2 n_main) and rendered; also what a deferred part would have been.
ModelFit unfitted_part(const PartSchedule& p, const Pdm& main_pdm, const float* main_landmarks);

// Scale loop, parts and refit (python: fit.detect_landmarks).
template <typename Image>
FitOutcome detect_landmarks(const Image& img, const Schedule& s, const Global& g,
                            const std::vector<float>& q, const FitOptions& opt = {});

extern template ModelFit run_schedule(const ImageF&, const ModelSchedule&, const Global&,
                                      const std::vector<float>&, const FitOptions&);
extern template ModelFit run_schedule(const ImageU8&, const ModelSchedule&, const Global&,
                                      const std::vector<float>&, const FitOptions&);
extern template FitOutcome detect_landmarks(const ImageF&, const Schedule&, const Global&,
                                            const std::vector<float>&, const FitOptions&);
extern template FitOutcome detect_landmarks(const ImageU8&, const Schedule&, const Global&,
                                            const std::vector<float>&, const FitOptions&);

}  // namespace fastclnf
