// Bindings of the KDE mean-shift core (spec 02 §2.5).
#include <string>

#include "kernels.hpp"
#include "meanshift.hpp"
#include "register.hpp"

namespace fastclnf::bindings {

namespace {
std::string shape_of(const py::array& a) {
    std::string s = "(";
    for (py::ssize_t d = 0; d < a.ndim(); ++d) s += (d ? ", " : "") + std::to_string(a.shape(d));
    return s + (a.ndim() == 1 ? ",)" : ")");
}
py::ssize_t grid_side(int ws) { return static_cast<py::ssize_t>(static_cast<float>(ws) / 0.1f); }
}  // namespace

void register_meanshift(py::module_& m) {
    m.def(
        "kde_grid",
        [](int ws, float a) {
            if (ws < 1 || ws > 101) throw py::value_error("ws out of range: " + std::to_string(ws));
            const py::ssize_t G = grid_side(ws);
            py::array_t<float> out({G * G, static_cast<py::ssize_t>(ws) * ws});
            {
                py::gil_scoped_release nogil;
                const auto T = kde_grid(ws, a);
                std::copy(T.begin(), T.end(), out.mutable_data());
            }
            return out;
        },
        py::arg("ws"), py::arg("a"),
        "KDE table ((10 ws)^2, ws^2) float32: row ix*(10 ws)+iy, column r*ws+c = "
        "exp(a((0.1f iy - r)^2 + (0.1f ix - c)^2)), a = -0.5/sigma^2 (spec 02 §2.5).");

    m.def(
        "mean_shift",
        [](const carray<float>& maps, const py::array& visible, const carray<float>& dx,
           const carray<float>& dy, int ws, const carray<float>& grid, const std::string& impl,
           py::object isa) {
            if (maps.ndim() != 3 || maps.shape(1) != ws || maps.shape(2) != ws)
                throw py::value_error("maps: expected shape (n, " + std::to_string(ws) + ", " +
                                      std::to_string(ws) + "), got " + shape_of(maps));
            const py::ssize_t n = maps.shape(0);
            auto vis = carray<int32_t>::ensure(visible);
            if (!vis || vis.ndim() != 1 || vis.shape(0) != n)
                throw py::value_error("visible: expected shape (" + std::to_string(n) +
                                      ",) of 0/1, got " + shape_of(visible));
            if (dx.ndim() != 1 || dx.shape(0) != n)
                throw py::value_error("dx: expected shape (" + std::to_string(n) + ",), got " +
                                      shape_of(dx));
            if (dy.ndim() != 1 || dy.shape(0) != n)
                throw py::value_error("dy: expected shape (" + std::to_string(n) + ",), got " +
                                      shape_of(dy));
            const py::ssize_t G = grid_side(ws);
            if (grid.ndim() != 2 || grid.shape(0) != G * G ||
                grid.shape(1) != static_cast<py::ssize_t>(ws) * ws)
                throw py::value_error("grid: expected kde_grid(" + std::to_string(ws) +
                                      ", a) of shape (" + std::to_string(G * G) + ", " +
                                      std::to_string(ws * ws) + "), got " + shape_of(grid));
            const bool reference = impl_arg(impl);
            const Kernels& k = kernels(isa_arg(isa));
            py::array_t<float> mx(n), my(n);
            float* ox = mx.mutable_data();
            float* oy = my.mutable_data();
            {
                py::gil_scoped_release nogil;
                if (reference) {
                    mean_shift(maps.data(), vis.data(), static_cast<int>(n), ws, dx.data(),
                               dy.data(), grid.data(), ox, oy);
                } else {
                    // The kernel's layout: maps transposed, landmark-minor, kPad-padded rows.
                    const int N = ws * ws, ld = pad16(static_cast<int>(n));
                    std::vector<float> maps_t(static_cast<size_t>(N) * ld, 0.f);
                    for (py::ssize_t i = 0; i < n; ++i)
                        for (int t = 0; t < N; ++t) maps_t[static_cast<size_t>(t) * ld + i] = maps.data()[i * N + t];
                    k.mean_shift_t(maps_t.data(), ld, vis.data(), static_cast<int>(n), ws, dx.data(),
                                   dy.data(), grid.data(), ox, oy);
                }
            }
            return py::make_tuple(mx, my);
        },
        py::arg("maps"), py::arg("visible"), py::arg("dx"), py::arg("dy"), py::arg("ws"),
        py::arg("grid"), py::arg("impl") = "reference", py::arg("isa") = py::none(),
        "Mean-shift (mx, my), each (n,) float32, in the reference frame: dx, dy are the current "
        "positions in map coordinates; clamped to [0, ws-0.1], kernel at the nearest 0.1-px grid "
        "point, shift = weighted mean - clamped position (spec 02 §2.5). Invisible -> (0, 0). "
        "impl='fast': the SIMD kernel of level isa (same results).");
}

}  // namespace fastclnf::bindings
