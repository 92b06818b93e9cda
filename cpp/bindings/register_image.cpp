// Input-frame conversion (cpp/color.hpp), so that a tracked frame needs no OpenCV call (whose
// thread pool spins on the second core between frames).
#include "color.hpp"
#include "register.hpp"

namespace fastclnf::bindings {

void register_image(py::module_& m) {
    m.def(
        "bgr_to_gray",
        [](const py::array_t<std::uint8_t>& img) {
            if (img.ndim() != 3 || (img.shape(2) != 3 && img.shape(2) != 4))
                throw py::value_error("bgr_to_gray: expected an (H, W, 3|4) uint8 array");
            const int rows = static_cast<int>(img.shape(0)), cols = static_cast<int>(img.shape(1));
            const int ch = static_cast<int>(img.shape(2));
            if (img.strides(2) != 1 || img.strides(1) != ch || img.strides(0) < 0)
                throw py::value_error("bgr_to_gray: pixels must be contiguous within rows");
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
