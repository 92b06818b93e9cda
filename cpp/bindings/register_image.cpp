// Input-frame conversion (cpp/color.hpp), so that a tracked frame needs no OpenCV call (whose
// thread pool spins on the second core between frames).
#include "color.hpp"
#include "register.hpp"

#include <memory>

namespace fastclnf::bindings {

namespace {

// A LazyGray and the colour frame it reads from.
struct PyLazyGray {
    py::array src;
    std::unique_ptr<LazyGray> gray;
    ImageU8 view;
};

// The layouts the row converters read: (H, W, 3|4) with contiguous pixels within rows.
void check_bgr(const py::array_t<std::uint8_t>& img, const char* who) {
    if (img.ndim() != 3 || (img.shape(2) != 3 && img.shape(2) != 4))
        throw py::value_error(std::string(who) + ": expected an (H, W, 3|4) uint8 array");
    if (img.strides(2) != 1 || img.strides(1) != img.shape(2) || img.strides(0) < 0)
        throw py::value_error(std::string(who) + ": pixels must be contiguous within rows");
}

}  // namespace

ImageU8* lazy_gray_view(const py::handle& obj) {
    if (!py::isinstance<PyLazyGray>(obj)) return nullptr;
    return &obj.cast<PyLazyGray&>().view;
}

void register_image(py::module_& m) {
    py::class_<PyLazyGray>(m, "LazyGray",
                           "The 8-bit gray of a BGR(A) frame, converted region by region as the "
                           "fit and the validator read it (exactly bgr_to_gray's values). Pass it "
                           "wherever the core takes a gray image; array() converts the rest.")
        .def(py::init([](const py::array_t<std::uint8_t>& img, bool poison) {
                 check_bgr(img, "LazyGray");
                 if (img.shape(0) == 0 || img.shape(1) == 0)
                     throw py::value_error("LazyGray: the image is empty");
                 auto p = std::make_unique<PyLazyGray>();
                 p->src = img;
                 p->gray = std::make_unique<LazyGray>(
                     img.data(), static_cast<int>(img.shape(0)), static_cast<int>(img.shape(1)),
                     static_cast<int>(img.shape(2)), static_cast<long>(img.strides(0)), poison);
                 p->view = p->gray->image();
                 return p;
             }),
             py::arg("image"), py::arg("poison") = false,
             "poison: fill the unconverted buffer with a marker pattern (tests).")
        .def_property_readonly("shape", [](const PyLazyGray& g) {
            return py::make_tuple(g.gray->rows(), g.gray->cols());
        })
        .def_property_readonly("converted", [](const PyLazyGray& g) { return g.gray->converted(); },
                               "Pixels converted so far.")
        .def(
            "ensure",
            [](PyLazyGray& g, int x0, int y0, int x1, int y1) { g.gray->ensure(x0, y0, x1, y1); },
            py::arg("x0"), py::arg("y0"), py::arg("x1"), py::arg("y1"),
            "Convert columns [x0, x1) of rows [y0, y1) (clamped to the image).")
        .def(
            "array",
            [](py::object self) {
                auto& g = self.cast<PyLazyGray&>();
                g.gray->ensure_all();
                // A read-only view of the buffer, kept alive by this object.
                py::array_t<std::uint8_t> a({g.gray->rows(), g.gray->cols()}, g.view.data, self);
                py::detail::array_proxy(a.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
                return a;
            },
            "The whole gray image (converting what is missing), as a read-only array view.");

    m.def(
        "bgr_to_gray",
        [](const py::array_t<std::uint8_t>& img) {
            check_bgr(img, "bgr_to_gray");
            const int rows = static_cast<int>(img.shape(0)), cols = static_cast<int>(img.shape(1));
            const int ch = static_cast<int>(img.shape(2));
            py::array_t<std::uint8_t> out({rows, cols});
            const std::uint8_t* src = img.data();
            std::uint8_t* dst = out.mutable_data();
            const long stride = static_cast<long>(img.strides(0));
            {
                py::gil_scoped_release nogil;
                bgr_to_gray(src, rows, cols, ch, stride, dst);
            }
            return out;
        },
        py::arg("image"),
        "8-bit gray from 8-bit BGR or BGRA, exactly as OpenCV 4.x converts it (spec 02 §6.1).");
}

}  // namespace fastclnf::bindings
