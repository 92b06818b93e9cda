#include "nurlms.hpp"

#include "register.hpp"

namespace fastclnf::bindings {

void register_nurlms(py::module_& m) {
    m.def(
        "fit_scale",
        [](carray<float> image, const Pdm& pdm, const CcnfScale& scale, const SigmaSet& sigmas,
           carray<float> grid, int ws, int iterations, float sigma, float reg, float weight,
           bool likelihood, carray<float> g, carray<float> q) {
            if (image.ndim() != 2) throw py::value_error("fit_scale: image must be 2-D float32");
            if (g.size() != 6) throw py::value_error("fit_scale: g must have 6 entries");
            if (q.size() != pdm.m) throw py::value_error("fit_scale: q must have pdm.m entries");
            if (sigmas.ws != ws) throw py::value_error("fit_scale: SigmaSet built for another ws");
            const py::ssize_t cells = static_cast<py::ssize_t>(10 * ws) * (10 * ws) * ws * ws;
            if (grid.size() != cells) throw py::value_error("fit_scale: KDE grid size mismatch");
            ImageF img{image.data(), static_cast<int>(image.shape(0)),
                       static_cast<int>(image.shape(1)), static_cast<int>(image.shape(1))};
            Global gg;
            std::copy(g.data(), g.data() + 6, gg.begin());
            py::array_t<float> q_out(pdm.m);
            std::copy(q.data(), q.data() + pdm.m, q_out.mutable_data());
            ScaleSettings s;
            s.ws = ws;
            s.iterations = iterations;
            s.sigma = sigma;
            s.reg = reg;
            s.weight = weight;
            s.likelihood = likelihood;
            ScaleResult r;
            {
                py::gil_scoped_release release;
                r = fit_scale(img, pdm, scale, sigmas, grid.data(), s, gg, q_out.mutable_data());
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
        "One scale of the CLNF fit (responses, rigid and non-rigid NU-RLMS phases) from (g, q).\n"
        "Returns a dict with the updated g, q, the view used, iteration counts and, if asked,\n"
        "the likelihoods. Releases the GIL.");
}

}  // namespace fastclnf::bindings
