// Bindings of the per-fit schedule (cpp/schedule.hpp): a Schedule built once from Python data
// (it keeps the Python objects it points into alive) and detect_landmarks, one call per fit.
#include <string>

#include "register.hpp"
#include "schedule.hpp"

namespace fastclnf::bindings {

namespace {

// The core Schedule plus references to the Python objects its pointers point into.
struct PySchedule {
    Schedule s;
    std::vector<py::object> keep;
};

ModelSchedule model_schedule(PySchedule& ps, const py::object& pdm_obj, const py::list& steps) {
    ModelSchedule m;
    m.pdm = &py::cast<const Pdm&>(pdm_obj);
    ps.keep.push_back(pdm_obj);
    for (const auto& item : steps) {
        const auto t = py::cast<py::tuple>(item);
        if (t.size() != 9)
            throw py::value_error("schedule step: expected (scale_index, scale, sigmas, grid, ws, "
                                  "iterations, sigma, reg, weight)");
        ScaleStep st;
        st.scale_index = py::cast<int>(t[0]);
        st.scale = &py::cast<const CcnfScale&>(t[1]);
        st.sigmas = &py::cast<const SigmaSet&>(t[2]);
        auto grid = carray<float>::ensure(t[3]);
        if (!grid) throw py::value_error("schedule step: grid must be a float32 array");
        st.grid = grid.data();
        st.settings.ws = py::cast<int>(t[4]);
        st.settings.iterations = py::cast<int>(t[5]);
        st.settings.sigma = py::cast<float>(t[6]);
        st.settings.reg = py::cast<float>(t[7]);
        st.settings.weight = py::cast<float>(t[8]);
        st.settings.likelihood = true;
        const int ws = st.settings.ws;
        if (st.scale->n != m.pdm->n)
            throw py::value_error("schedule step: PDM and patch experts disagree on n");
        if (st.sigmas->ws != ws || st.sigmas->n_views != st.scale->n_views || st.sigmas->n != st.scale->n)
            throw py::value_error("schedule step: Sigma set built for another window or scale");
        const py::ssize_t cells = static_cast<py::ssize_t>(10 * ws) * (10 * ws) * ws * ws;
        if (grid.size() != cells) throw py::value_error("schedule step: KDE grid size mismatch");
        if (st.settings.iterations < 1) throw py::value_error("schedule step: iterations must be >= 1");
        ps.keep.push_back(t[1]);
        ps.keep.push_back(t[2]);
        ps.keep.push_back(grid);
        m.steps.push_back(st);
    }
    return m;
}

py::object model_fit_dict(const ModelFit& f) {
    if (f.deferred) return py::none();
    py::dict d;
    py::array_t<float> g(6), q(f.q.size()), lm(f.landmarks.size());
    std::copy(f.g.begin(), f.g.end(), g.mutable_data());
    std::copy(f.q.begin(), f.q.end(), q.mutable_data());
    std::copy(f.landmarks.begin(), f.landmarks.end(), lm.mutable_data());
    d["g"] = g;
    d["q"] = q;
    d["landmarks"] = lm;
    d["fitted"] = f.fitted;
    d["fit_success"] = f.fit_success;
    d["failed_scale"] = f.failed_scale;
    d["converged"] = f.converged;
    d["iterations"] = f.iterations;
    d["view"] = f.view;
    if (f.fitted) {
        d["likelihood"] = f.likelihood;
        d["landmark_likelihoods"] =
            py::array_t<float>(f.landmark_likelihoods.size(), f.landmark_likelihoods.data());
    } else {
        d["likelihood"] = py::none();
        d["landmark_likelihoods"] = py::none();
    }
    return d;
}

}  // namespace

void register_schedule(py::module_& m) {
    py::class_<PySchedule>(m, "Schedule",
                           "The per-fit schedule as data (cpp/schedule.hpp): the main model's scale "
                           "steps and the hierarchical parts. Built by fastclnf.fit from a preset.")
        .def(py::init([](const py::tuple& main, const py::list& parts) {
                 auto ps = std::make_unique<PySchedule>();
                 if (main.size() != 2) throw py::value_error("main: expected (pdm, steps)");
                 ps->s.main = model_schedule(*ps, main[0], py::cast<py::list>(main[1]));
                 const Pdm& main_pdm = *ps->s.main.pdm;
                 for (const auto& item : parts) {
                     const auto t = py::cast<py::tuple>(item);
                     if (t.size() != 4)
                         throw py::value_error("part: expected (pdm, steps, mapping, fit_above_scale)");
                     PartSchedule p;
                     p.model = model_schedule(*ps, t[0], py::cast<py::list>(t[1]));
                     auto mp = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(t[2]);
                     if (!mp || mp.ndim() != 2 || mp.shape(1) != 2)
                         throw py::value_error("part mapping: expected a (k, 2) integer array");
                     for (py::ssize_t r = 0; r < mp.shape(0); ++r) {
                         const int64_t a = mp.at(r, 0), b = mp.at(r, 1);
                         if (a < 0 || a >= main_pdm.n || b < 0 || b >= p.model.pdm->n)
                             throw py::value_error("part mapping: index out of range");
                         p.mapping.push_back({static_cast<int>(a), static_cast<int>(b)});
                     }
                     p.fit_above_scale = py::cast<double>(t[3]);
                     ps->s.parts.push_back(std::move(p));
                 }
                 return ps;
             }),
             py::arg("main"), py::arg("parts"),
             "main = (pdm, steps), steps = [(scale_index, scale, sigmas, grid, ws, iterations, "
             "sigma, reg, weight)]; parts = [(pdm, steps, mapping (k, 2) [main, part], "
             "fit_above_scale)]; when no part is fitted, every part comes back as None (deferred: "
             "its PDM fit to the mapped points is left to the caller).")
        .def(
            "unfitted_part",
            [](const PySchedule& ps, int k, const carray<float>& main_landmarks) {
                if (k < 0 || k >= static_cast<int>(ps.s.parts.size()))
                    throw py::index_error("part index out of range");
                const Pdm& main_pdm = *ps.s.main.pdm;
                if (main_landmarks.ndim() != 1 || main_landmarks.shape(0) != 2 * main_pdm.n)
                    throw py::value_error("main_landmarks: expected (2n,) of the main model");
                ModelFit f;
                {
                    py::gil_scoped_release nogil;
                    f = unfitted_part(ps.s.parts[k], main_pdm, main_landmarks.data());
                }
                return model_fit_dict(f);
            },
            py::arg("k"), py::arg("main_landmarks"),
            "Part k as detect_landmarks computes an unfitted part (its PDM fitted to the mapped "
            "main landmarks, rendered): what a deferred part would have been.")
        .def_property_readonly("n_steps", [](const PySchedule& s) { return s.s.main.steps.size(); })
        .def_property_readonly("n_parts", [](const PySchedule& s) { return s.s.parts.size(); });

    m.def(
        "detect_landmarks",
        [](const py::object& image, const PySchedule& sched, const carray<float>& g,
           const carray<float>& q, const std::string& impl, py::object isa) {
            const GrayImage img = gray_image(image, "image");
            FitOptions opt;
            opt.reference = impl_arg(impl);
            opt.isa = isa_arg(isa);
            const Pdm& pdm = *sched.s.main.pdm;
            if (g.size() != 6) throw py::value_error("g must have 6 entries");
            if (q.size() != pdm.m) throw py::value_error("q must have pdm.m entries");
            Global gg;
            std::copy(g.data(), g.data() + 6, gg.begin());
            std::vector<float> qq(q.data(), q.data() + pdm.m);
            FitOutcome out;
            {
                py::gil_scoped_release nogil;
                out = img.is_u8 ? detect_landmarks(img.u8_view(), sched.s, gg, qq, opt)
                                : detect_landmarks(img.f32_view(), sched.s, gg, qq, opt);
            }
            py::dict d = py::cast<py::dict>(model_fit_dict(out.main));
            py::list parts;
            for (const auto& p : out.parts) parts.append(model_fit_dict(p));
            d["parts"] = parts;
            d["refitted"] = out.refitted;
            return d;
        },
        py::arg("image"), py::arg("schedule"), py::arg("g"), py::arg("q"), py::arg("impl") = "fast",
        py::arg("isa") = py::none(),
        "One fit from (g, q): the scale loop, the parts and the refit (spec 02 §2, §4), with the "
        "GIL released throughout. Returns the main model's g, q, landmarks, fit_success, "
        "failed_scale, converged, iterations, view, likelihood, landmark_likelihoods, plus "
        "'parts' (one dict per part: g, q, landmarks, fitted, likelihood, ...) and 'refitted'.");
}

}  // namespace fastclnf::bindings
