// Bindings for the CNN detection validator (cpp/validator.hpp).
#include <cmath>
#include <memory>

#include "../validator.hpp"
#include "net_from_python.hpp"
#include "register.hpp"

namespace fastclnf::bindings {

namespace {

std::vector<int> to_ints(const py::handle& h) {
    auto a = h.cast<carray<std::int32_t>>();
    return std::vector<int>(a.data(), a.data() + a.size());
}

std::vector<float> to_floats(const py::handle& h) { return to_vector(h.cast<carray<float>>()); }

// Checks the image/landmark arguments shared by validate() and network_input().
GrayImage check_args(const py::object& gray_obj, const carray<float>& lm) {
    GrayImage gray = gray_image(gray_obj, "gray");
    if (!gray.is_u8) throw py::type_error("gray must be a 2-D uint8 image");
    if (lm.ndim() != 2 || lm.shape(1) != 2 || lm.shape(0) < 1) throw py::value_error("landmarks must be (n, 2)");
    return gray;
}

}  // namespace

void register_validator(py::module_& m) {
    py::class_<validator::Validator, std::shared_ptr<validator::Validator>>(
        m, "Validator", "CNN detection validator (spec 02 §5).")
        .def(py::init([](const py::sequence& views, int n_landmarks) {
                 auto v = std::make_shared<validator::Validator>();
                 for (py::handle h : views) {
                     auto d = py::reinterpret_borrow<py::dict>(h);
                     validator::View view;
                     auto o = d["orientation"].cast<carray<double>>();
                     if (o.size() != 3) throw py::value_error("orientation must have 3 values");
                     view.orientation = {o.data()[0], o.data()[1], o.data()[2]};
                     view.mean_img = to_floats(d["mean_img"]);
                     view.std_img = to_floats(d["std_img"]);
                     view.net = net_from_python(d["layers"].cast<py::sequence>());
                     view.min_x = d["min_x"].cast<double>();
                     view.min_y = d["min_y"].cast<double>();
                     view.triangles = to_ints(d["triangles"]);
                     view.triangle_id = to_ints(d["triangle_id"]);
                     view.pixel_mask = to_ints(d["pixel_mask"]);
                     view.alpha = to_floats(d["alpha"]);
                     view.beta = to_floats(d["beta"]);
                     validator::finalise(view, n_landmarks);
                     v->views.push_back(std::move(view));
                 }
                 if (v->views.empty()) throw py::value_error("validator needs at least one view");
                 return v;
             }),
             py::arg("views"), py::arg("n_landmarks") = 68)
        .def_property_readonly("n_views", [](const validator::Validator& v) { return v.views.size(); })
        .def(
            "choose_view",
            [](const validator::Validator& v, double rx, double ry, double rz) {
                return validator::choose_view(v, rx, ry, rz);
            },
            py::arg("rx"), py::arg("ry"), py::arg("rz"))
        .def(
            "validate",
            [](const validator::Validator& v, const py::object& gray_obj, const carray<float>& lm,
               double rx, double ry, double rz) {
                const GrayImage gray = check_args(gray_obj, lm);
                const float* p = lm.data();
                for (py::ssize_t i = 0; i < lm.size(); ++i)
                    if (!std::isfinite(p[i])) throw py::value_error("landmarks must be finite");
                if (!std::isfinite(rx) || !std::isfinite(ry) || !std::isfinite(rz))
                    throw py::value_error("rotation must be 3 finite values (rx, ry, rz)");
                py::gil_scoped_release release;
                return validator::validate(v, gray.u8_view(), lm.data(), static_cast<int>(lm.shape(0)),
                                           rx, ry, rz);
            },
            py::arg("gray"), py::arg("landmarks"), py::arg("rx"), py::arg("ry"), py::arg("rz"),
            "Certainty in (0, 1) for landmarks (n, 2) on a C-contiguous uint8 gray image.")
        .def(
            "network_input",
            [](const validator::Validator& v, int view, const py::object& gray_obj,
               const carray<float>& lm) -> py::object {
                const GrayImage gray = check_args(gray_obj, lm);
                if (view < 0 || view >= static_cast<int>(v.views.size())) throw py::index_error("view");
                bool ok = false;
                std::vector<float> in = validator::network_input(
                    v.views[view], gray.u8_view(), lm.data(), static_cast<int>(lm.shape(0)), ok);
                if (!ok) return py::none();
                py::array_t<float> out({validator::kGrid, validator::kGrid});
                std::copy(in.begin(), in.end(), out.mutable_data());
                return out;
            },
            py::arg("view"), py::arg("gray"), py::arg("landmarks"),
            "The normalised 60x60 CNN input of a view, or None in the degenerate-ROI case.");
}

}  // namespace fastclnf::bindings
