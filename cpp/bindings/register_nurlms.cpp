#include "nurlms.hpp"

#include "register.hpp"

namespace fastclnf::bindings {

namespace {
ScaleSettings scale_settings(int ws, int iterations, float sigma, float reg, float weight,
                             bool likelihood) {
    ScaleSettings s;
    s.ws = ws;
    s.iterations = iterations;
    s.sigma = sigma;
    s.reg = reg;
    s.weight = weight;
    s.likelihood = likelihood;
    return s;
}
}  // namespace

void register_nurlms(py::module_& m) {
    m.def(
        "fit_scale",
        [](const py::object& image, const Pdm& pdm, const CcnfScale& scale, const SigmaSet& sigmas,
           carray<float> grid, int ws, int iterations, float sigma, float reg, float weight,
           bool likelihood, carray<float> g, carray<float> q, const std::string& impl,
           py::object isa) {
            const GrayImage img = gray_image(image, "image");
            FitOptions opt;
            opt.reference = impl_arg(impl);
            opt.isa = isa_arg(isa);
            if (g.size() != 6) throw py::value_error("fit_scale: g must have 6 entries");
            if (q.size() != pdm.m) throw py::value_error("fit_scale: q must have pdm.m entries");
            if (sigmas.ws != ws) throw py::value_error("fit_scale: SigmaSet built for another ws");
            const py::ssize_t cells = static_cast<py::ssize_t>(10 * ws) * (10 * ws) * ws * ws;
            if (grid.size() != cells) throw py::value_error("fit_scale: KDE grid size mismatch");
            Global gg;
            std::copy(g.data(), g.data() + 6, gg.begin());
            py::array_t<float> q_out(pdm.m);
            std::copy(q.data(), q.data() + pdm.m, q_out.mutable_data());
            const ScaleSettings s = scale_settings(ws, iterations, sigma, reg, weight, likelihood);
            ScaleResult r;
            {
                py::gil_scoped_release release;
                r = img.is_u8 ? fit_scale(img.u8_view(), pdm, scale, sigmas, grid.data(), s, gg,
                                          q_out.mutable_data(), opt)
                              : fit_scale(img.f32_view(), pdm, scale, sigmas, grid.data(), s, gg,
                                          q_out.mutable_data(), opt);
            }
            py::array_t<float> g_out(6);
            std::copy(gg.begin(), gg.end(), g_out.mutable_data());
            py::dict d;
            d["g"] = g_out;
            d["q"] = q_out;
            d["view"] = r.view;
            d["rigid_iterations"] = r.rigid_iterations;
            d["nonrigid_iterations"] = r.nonrigid_iterations;
            d["converged"] = r.converged;
            if (likelihood) {
                d["model_likelihood"] = r.model_likelihood;
                d["landmark_likelihoods"] =
                    py::array_t<float>(r.landmark_likelihoods.size(), r.landmark_likelihoods.data());
            }
            return d;
        },
        py::arg("image"), py::arg("pdm"), py::arg("scale"), py::arg("sigmas"), py::arg("grid"),
        py::arg("ws"), py::arg("iterations"), py::arg("sigma"), py::arg("reg"),
        py::arg("weight"), py::arg("likelihood"), py::arg("g"), py::arg("q"),
        py::arg("impl") = "fast", py::arg("isa") = py::none(),
        "One scale of the CLNF fit (responses, rigid and non-rigid NU-RLMS phases) from (g, q).\n"
        "image: 2-D uint8 (sampled directly) or float32. impl='reference' runs the scalar\n"
        "reference code throughout; isa picks the SIMD level of the fast kernels.\n"
        "Returns a dict with the updated g, q, the view used, iteration counts and, if asked,\n"
        "the likelihoods. Releases the GIL.");
    m.def(
        "nurlms_phase",
        [](const Pdm& pdm, carray<float> maps, carray<int> visible, carray<float> confidence,
           carray<float> base, carray<float> A, carray<float> grid, int ws, int iterations,
           float sigma, float reg, float weight, bool rigid, carray<float> g, carray<float> q) {
            const py::ssize_t n = pdm.n;
            if (maps.size() != n * ws * ws) throw py::value_error("nurlms_phase: maps must be (n, ws, ws)");
            if (visible.size() != n || confidence.size() != n)
                throw py::value_error("nurlms_phase: visible and confidence must have n entries");
            if (base.size() != 2 * n) throw py::value_error("nurlms_phase: base must have 2n entries");
            if (A.size() != 4) throw py::value_error("nurlms_phase: A must be 2x2");
            if (grid.size() != static_cast<py::ssize_t>(100) * ws * ws * ws * ws)
                throw py::value_error("nurlms_phase: KDE grid size mismatch");
            if (g.size() != 6 || q.size() != pdm.m) throw py::value_error("nurlms_phase: bad g or q");
            PhaseInputs in;
            in.pdm = &pdm;
            in.maps = maps.data();
            in.visible = visible.data();
            in.confidence = confidence.data();
            in.base = base.data();
            std::copy(A.data(), A.data() + 4, in.A.begin());
            in.Ainv = invert2x2(in.A);
            in.grid = grid.data();
            const ScaleSettings s = scale_settings(ws, iterations, sigma, reg, weight, false);
            Global gg;
            std::copy(g.data(), g.data() + 6, gg.begin());
            py::array_t<float> q_out(pdm.m);
            std::copy(q.data(), q.data() + pdm.m, q_out.mutable_data());
            PhaseOutput out;
            {
                py::gil_scoped_release release;
                out = nurlms_phase(in, s, rigid, gg, q_out.mutable_data());
            }
            py::array_t<float> g_out(6);
            std::copy(gg.begin(), gg.end(), g_out.mutable_data());
            py::dict d;
            d["g"] = g_out;
            d["q"] = q_out;
            d["updates"] = out.updates;
            d["converged"] = out.converged;
            d["dx"] = py::array_t<float>(out.dx.size(), out.dx.data());
            d["dy"] = py::array_t<float>(out.dy.size(), out.dy.data());
            return d;
        },
        py::arg("pdm"), py::arg("maps"), py::arg("visible"), py::arg("confidence"),
        py::arg("base"), py::arg("A"), py::arg("grid"), py::arg("ws"), py::arg("iterations"),
        py::arg("sigma"), py::arg("reg"), py::arg("weight"), py::arg("rigid"), py::arg("g"),
        py::arg("q"),
        "One rigid or non-rigid NU-RLMS phase on given response maps (for tests and research).");

    m.def(
        "likelihoods",
        [](carray<float> maps, carray<int> visible, carray<float> dx, carray<float> dy,
           float sigma) {
            if (maps.ndim() != 3 || maps.shape(1) != maps.shape(2))
                throw py::value_error("likelihoods: maps must be (n, ws, ws)");
            const int n = static_cast<int>(maps.shape(0)), ws = static_cast<int>(maps.shape(1));
            if (visible.size() != n || dx.size() != n || dy.size() != n)
                throw py::value_error("likelihoods: visible, dx, dy must have n entries");
            py::array_t<float> per(n);
            float total;
            {
                py::gil_scoped_release release;
                total = likelihoods(maps.data(), visible.data(), n, ws, dx.data(), dy.data(), sigma,
                                    per.mutable_data());
            }
            return py::make_tuple(total, per);
        },
        py::arg("maps"), py::arg("visible"), py::arg("dx"), py::arg("dy"), py::arg("sigma"),
        "(model_likelihood, landmark_likelihoods) from the exact Gaussian (spec 02 §2.8).");
}

}  // namespace fastclnf::bindings
