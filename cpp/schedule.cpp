#include "schedule.hpp"

#include <stdexcept>

namespace fastclnf {

template <typename Image>
ModelFit run_schedule(const Image& img, const ModelSchedule& s, const Global& g0,
                      const std::vector<float>& q0, const FitOptions& opt) {
    const Pdm& pdm = *s.pdm;
    if (static_cast<int>(q0.size()) != pdm.m)
        throw std::invalid_argument("run_schedule: q must have pdm.m entries");
    ModelFit st;
    st.g = g0;
    st.q = q0;
    for (size_t k = 0; k < s.steps.size(); ++k) {
        const ScaleStep& step = s.steps[k];
        // Only the last visited scale's likelihood is kept (spec 02 §2.2 note): compute it at the
        // last step, or where the loop stops early (face too small).
        ScaleSettings settings = step.settings;
        if (settings.likelihood && k + 1 < s.steps.size()) {
            settings.likelihood = false;
            settings.likelihood_below_scale = 0.25f;
        }
        const ScaleResult r = fit_scale(img, pdm, *step.scale, *step.sigmas, step.grid, settings,
                                        st.g, st.q.data(), opt);
        st.view = r.view;
        st.iterations += r.rigid_iterations + r.nonrigid_iterations;
        st.converged = r.converged;
        if (r.has_likelihood) {
            // The likelihood kept is the one of the last visited scale (spec 02 §2.2 note).
            st.has_likelihood = true;
            st.likelihood = r.model_likelihood;
            st.landmark_likelihoods = r.landmark_likelihoods;
        }
        if (st.g[0] < 0.25f) {
            st.fit_success = false;
            st.failed_scale = step.scale_index;
            break;
        }
    }
    st.landmarks.resize(2 * static_cast<size_t>(pdm.n));
    shape2d(pdm, st.g, st.q.data(), st.landmarks.data());
    return st;
}

namespace {

// Spec 02 §4 step 2: the part PDM fitted to the mapped main landmarks (unmapped entries stay 0
// and count as missing, x == 0).
void part_start(const PartSchedule& p, const Pdm& main_pdm, const float* main_landmarks,
                Global& pg, std::vector<float>& pq) {
    const Pdm& part_pdm = *p.model.pdm;
    const int n_part = part_pdm.n, n_main = main_pdm.n;
    std::vector<float> target(2 * static_cast<size_t>(n_part), 0.f);
    for (const auto& mp : p.mapping) {
        target[mp[1]] = main_landmarks[mp[0]];
        target[mp[1] + n_part] = main_landmarks[mp[0] + n_main];
    }
    pq.assign(part_pdm.m, 0.f);
    params_from_landmarks(part_pdm, target.data(), {0.f, 0.f, 0.f}, pg, pq.data());
}

}  // namespace

ModelFit unfitted_part(const PartSchedule& p, const Pdm& main_pdm, const float* main_landmarks) {
    ModelFit pf;
    pf.fitted = false;
    part_start(p, main_pdm, main_landmarks, pf.g, pf.q);
    pf.landmarks.resize(2 * static_cast<size_t>(p.model.pdm->n));
    shape2d(*p.model.pdm, pf.g, pf.q.data(), pf.landmarks.data());
    return pf;
}

template <typename Image>
FitOutcome detect_landmarks(const Image& img, const Schedule& s, const Global& g,
                            const std::vector<float>& q, const FitOptions& opt) {
    FitOutcome out;
    out.main = run_schedule(img, s.main, g, q, opt);
    if (s.parts.empty()) return out;
    const Pdm& main_pdm = *s.main.pdm;
    const int n_main = main_pdm.n;
    const float main_scale = out.main.g[0];
    bool any_fitted = false;
    for (const PartSchedule& p : s.parts)
        any_fitted |= static_cast<double>(main_scale) > p.fit_above_scale;
    out.parts.reserve(s.parts.size());
    for (const PartSchedule& p : s.parts) {
        if (!any_fitted) {
            ModelFit pf;
            pf.fitted = false;
            pf.deferred = true;
            out.parts.push_back(std::move(pf));
            continue;
        }
        if (static_cast<double>(main_scale) > p.fit_above_scale) {
            Global pg;
            std::vector<float> pq;
            part_start(p, main_pdm, out.main.landmarks.data(), pg, pq);
            out.parts.push_back(run_schedule(img, p.model, pg, pq, opt));
        } else {
            out.parts.push_back(unfitted_part(p, main_pdm, out.main.landmarks.data()));
        }
    }
    if (any_fitted) {
        // Merge in file order (the eyes overwrite the inner face), then refit the main PDM.
        std::vector<float> merged = out.main.landmarks;
        for (size_t k = 0; k < s.parts.size(); ++k) {
            const int n_part = s.parts[k].model.pdm->n;
            const auto& lm = out.parts[k].landmarks;
            for (const auto& mp : s.parts[k].mapping) {
                merged[mp[0]] = lm[mp[1]];
                merged[mp[0] + n_main] = lm[mp[1] + n_part];
            }
        }
        out.refitted = true;
        params_from_landmarks(main_pdm, merged.data(), {0.f, 0.f, 0.f}, out.main.g,
                              out.main.q.data());
        shape2d(main_pdm, out.main.g, out.main.q.data(), out.main.landmarks.data());
    }
    return out;
}

template ModelFit run_schedule(const ImageF&, const ModelSchedule&, const Global&,
                               const std::vector<float>&, const FitOptions&);
template ModelFit run_schedule(const ImageU8&, const ModelSchedule&, const Global&,
                               const std::vector<float>&, const FitOptions&);
template FitOutcome detect_landmarks(const ImageF&, const Schedule&, const Global&,
                                     const std::vector<float>&, const FitOptions&);
template FitOutcome detect_landmarks(const ImageU8&, const Schedule&, const Global&,
                                     const std::vector<float>&, const FitOptions&);

}  // namespace fastclnf
