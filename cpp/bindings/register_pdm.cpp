// Bindings of the PDM core (cpp/pdm.hpp) and the small linear-algebra helpers (cpp/linalg.hpp).
// Arrays are converted to C-contiguous float32 (copied only when needed), shapes are checked
// with ValueErrors that name the argument, and the GIL is released around the core calls.
#include <sstream>
#include <string>

#include "kernels.hpp"
#include "linalg.hpp"
#include "pdm.hpp"
#include "register.hpp"

namespace fastclnf::bindings {
namespace {

std::string shape_str(const py::array& a) {
    std::ostringstream os;
    os << "(";
    for (py::ssize_t d = 0; d < a.ndim(); ++d) os << (d ? ", " : "") << a.shape(d) << (a.ndim() == 1 ? "," : "");
    os << ")";
    return os.str();
}

// Require a 1-D array of exactly `len` elements.
void check_1d(const py::array& a, py::ssize_t len, const char* name, const char* what) {
    if (a.ndim() != 1 || a.shape(0) != len) {
        std::ostringstream os;
        os << name << " must have shape (" << len << ",) (" << what << "), got " << shape_str(a);
        throw py::value_error(os.str());
    }
}

void check_2d(const py::array& a, py::ssize_t r, py::ssize_t c, const char* name) {
    if (a.ndim() != 2 || a.shape(0) != r || a.shape(1) != c) {
        std::ostringstream os;
        os << name << " must have shape (" << r << ", " << c << "), got " << shape_str(a);
        throw py::value_error(os.str());
    }
}

Global to_global(const carray<float>& g) {
    check_1d(g, 6, "g", "s, rx, ry, rz, tx, ty");
    Global out;
    std::copy_n(g.data(), 6, out.begin());
    return out;
}

std::array<float, 3> to3(const carray<float>& a, const char* name) {
    check_1d(a, 3, name, "rx, ry, rz in radians");
    return {a.data()[0], a.data()[1], a.data()[2]};
}

py::array_t<float> vec(const float* data, py::ssize_t len) {
    py::array_t<float> out(len);
    std::copy_n(data, len, out.mutable_data());
    return out;
}

template <size_t N>
py::array_t<float> vec(const std::array<float, N>& a) {
    return vec(a.data(), static_cast<py::ssize_t>(N));
}

const carray<float> local_or_zero(const Pdm& pdm, const py::object& q) {
    if (q.is_none()) {
        carray<float> z(pdm.m);
        std::fill_n(z.mutable_data(), pdm.m, 0.0f);
        return z;
    }
    carray<float> a = carray<float>::ensure(q);
    if (!a) throw py::value_error("q must be array-like of float32");
    check_1d(a, pdm.m, "q", "one entry per PDM mode");
    return a;
}

}  // namespace

void register_pdm(py::module_& m) {
    py::class_<Pdm>(m, "Pdm", R"doc(
Point Distribution Model (spec 01 §2-3): 3-D shape = mean + components @ q.

Pdm(mean: float32[3n], components: float32[3n, m], eigenvalues: float32[m]). The arrays are
copied once into the C++ object (converted to float32 if needed); coordinate-major layout
[X_0..X_{n-1}, Y_0.., Z_0..].)doc")
        .def(py::init([](const carray<float>& mean, const carray<float>& components,
                         const carray<float>& eigenvalues) {
                 if (mean.ndim() != 1 || mean.shape(0) == 0 || mean.shape(0) % 3 != 0)
                     throw py::value_error("mean must be a non-empty 1-D array of length 3n, got shape " +
                                           shape_str(mean));
                 const py::ssize_t n3 = mean.shape(0);
                 if (components.ndim() != 2 || components.shape(0) != n3)
                     throw py::value_error("components must have shape (3n, m) = (" + std::to_string(n3) +
                                           ", m), got " + shape_str(components));
                 const py::ssize_t mm = components.shape(1);
                 check_1d(eigenvalues, mm, "eigenvalues", "one variance per mode");
                 Pdm p;
                 p.n = static_cast<int>(n3 / 3);
                 p.m = static_cast<int>(mm);
                 p.mean.assign(mean.data(), mean.data() + n3);
                 p.V.assign(components.data(), components.data() + n3 * mm);
                 p.eig.assign(eigenvalues.data(), eigenvalues.data() + mm);
                 pdm_derive(p);
                 return p;
             }),
             py::arg("mean"), py::arg("components"), py::arg("eigenvalues"))
        .def_property_readonly("n", [](const Pdm& p) { return p.n; }, "number of landmarks")
        .def_property_readonly("m", [](const Pdm& p) { return p.m; }, "number of shape modes")
        .def_property_readonly("mean", [](const Pdm& p) { return vec(p.mean.data(), 3 * p.n); },
                               "copy of the mean shape, (3n,) float32")
        .def_property_readonly("components",
                               [](const Pdm& p) {
                                   py::array_t<float> out({3 * p.n, p.m});
                                   std::copy(p.V.begin(), p.V.end(), out.mutable_data());
                                   return out;
                               },
                               "copy of the components, (3n, m) float32")
        .def_property_readonly("eigenvalues", [](const Pdm& p) { return vec(p.eig.data(), p.m); },
                               "copy of the eigenvalues, (m,) float32")
        .def("__repr__", [](const Pdm& p) {
            return "<fastclnf._core.Pdm n=" + std::to_string(p.n) + " m=" + std::to_string(p.m) + ">";
        });

    m.def(
        "euler_to_rotation",
        [](const carray<float>& euler) {
            const auto e = to3(euler, "euler");
            std::array<float, 9> R;
            {
                py::gil_scoped_release nogil;
                R = euler_to_rotation(e[0], e[1], e[2]);
            }
            py::array_t<float> out({3, 3});
            std::copy(R.begin(), R.end(), out.mutable_data());
            return out;
        },
        py::arg("euler"),
        "R = Rx(rx) Ry(ry) Rz(rz) as a (3, 3) float32 array, from euler = (rx, ry, rz) (spec 01 §3.1).");

    m.def(
        "rotation_to_euler",
        [](const carray<float>& R) {
            check_2d(R, 3, 3, "R");
            std::array<float, 9> r;
            std::copy_n(R.data(), 9, r.begin());
            std::array<float, 3> e;
            {
                py::gil_scoped_release nogil;
                e = rotation_to_euler(r);
            }
            return vec(e);
        },
        py::arg("R"),
        "Euler angles (rx, ry, rz) of a (3, 3) rotation via quaternions (spec 01 §3.2); may be NaN "
        "near a 180-degree rotation.");

    m.def(
        "shape3d",
        [](const Pdm& pdm, const carray<float>& q) {
            check_1d(q, pdm.m, "q", "one entry per PDM mode");
            py::array_t<float> out(3 * pdm.n);
            float* o = out.mutable_data();
            {
                py::gil_scoped_release nogil;
                shape3d(pdm, q.data(), o);
            }
            return out;
        },
        py::arg("pdm"), py::arg("q"), "3-D shape mean + V q, (3n,) float32 [X.., Y.., Z..] (spec 01 §3.3).");

    m.def(
        "shape2d",
        [](const Pdm& pdm, const carray<float>& g, const carray<float>& q) {
            const Global gg = to_global(g);
            check_1d(q, pdm.m, "q", "one entry per PDM mode");
            py::array_t<float> out(2 * pdm.n);
            float* o = out.mutable_data();
            {
                py::gil_scoped_release nogil;
                shape2d(pdm, gg, q.data(), o);
            }
            return out;
        },
        py::arg("pdm"), py::arg("g"), py::arg("q"),
        "Projected 2-D shape, (2n,) float32 [x.., y..], for g = (s, rx, ry, rz, tx, ty) and q "
        "(spec 01 §3.3).");

    m.def(
        "bbox_of_shape",
        [](const carray<float>& shape2n) {
            if (shape2n.ndim() != 1 || shape2n.shape(0) % 2 != 0)
                throw py::value_error("shape must be a 1-D array of length 2n, got " + shape_str(shape2n));
            const int n = static_cast<int>(shape2n.shape(0) / 2);
            std::array<float, 4> b;
            {
                py::gil_scoped_release nogil;
                b = bbox_of_shape(shape2n.data(), n);
            }
            return vec(b);
        },
        py::arg("shape"), "(min_x, min_y, width, height) of a (2n,) shape (spec 01 §3.3).");

    auto jac = [](bool full) {
        return [full](const Pdm& pdm, const carray<float>& g, const carray<float>& q) {
            const Global gg = to_global(g);
            check_1d(q, pdm.m, "q", "one entry per PDM mode");
            const py::ssize_t cols = full ? 6 + pdm.m : 6;
            py::array_t<float> out({static_cast<py::ssize_t>(2 * pdm.n), cols});
            float* o = out.mutable_data();
            {
                py::gil_scoped_release nogil;
                if (full) jacobian(pdm, gg, q.data(), o);
                else rigid_jacobian(pdm, gg, q.data(), o);
            }
            return out;
        };
    };
    m.def("jacobian", jac(true), py::arg("pdm"), py::arg("g"), py::arg("q"),
          "Full Jacobian (2n, 6+m) float32 of the 2-D shape w.r.t. (s, wx, wy, wz, tx, ty, q) with "
          "rotation on the right (spec 01 §3.4). Unweighted.");
    m.def("rigid_jacobian", jac(false), py::arg("pdm"), py::arg("g"), py::arg("q"),
          "Rigid Jacobian (2n, 6) float32: the first 6 columns of jacobian() (spec 01 §3.4).");

    m.def(
        "apply_update",
        [](const carray<float>& g, const carray<float>& q, const carray<float>& delta) {
            Global gg = to_global(g);
            if (q.ndim() != 1) throw py::value_error("q must be 1-D, got shape " + shape_str(q));
            const int mm = static_cast<int>(q.shape(0));
            if (delta.ndim() != 1 || (delta.shape(0) != 6 && delta.shape(0) != 6 + mm))
                throw py::value_error("delta must have shape (6,) or (6+m,) = (" + std::to_string(6 + mm) +
                                      ",), got " + shape_str(delta));
            py::array_t<float> qo = vec(q.data(), mm);
            float* qp = qo.mutable_data();
            const float* d = delta.data();
            const int nd = static_cast<int>(delta.shape(0));
            {
                py::gil_scoped_release nogil;
                apply_update(gg, qp, mm, d, nd);
            }
            return py::make_tuple(vec(gg), qo);
        },
        py::arg("g"), py::arg("q"), py::arg("delta"),
        "Return (g', q') after applying delta (6 rigid or 6+m entries): additive scale, translation "
        "and q; rotation composed on the right, re-orthonormalised, Rodrigues round trip with the "
        "1e-5 rad snap, NaN angles -> 0 (spec 01 §3.6). No clamping.");

    m.def(
        "clamp_local",
        [](const Pdm& pdm, const carray<float>& q) {
            check_1d(q, pdm.m, "q", "one entry per PDM mode");
            py::array_t<float> out = vec(q.data(), pdm.m);
            float* o = out.mutable_data();
            {
                py::gil_scoped_release nogil;
                clamp_local(pdm, o);
            }
            return out;
        },
        py::arg("pdm"), py::arg("q"), "q clamped to +-3 sqrt(eigenvalue) per mode, as a new array (spec 01 §3.5).");

    m.def(
        "params_from_bbox",
        [](const Pdm& pdm, const carray<float>& box, const py::object& q, const carray<float>& rot) {
            check_1d(box, 4, "box", "x, y, width, height");
            const std::array<float, 4> bx = {box.data()[0], box.data()[1], box.data()[2], box.data()[3]};
            const auto r = to3(rot, "rot");
            const carray<float> qq = local_or_zero(pdm, q);
            Global g;
            {
                py::gil_scoped_release nogil;
                g = params_from_bbox(pdm, bx, qq.data(), r);
            }
            return vec(g);
        },
        py::arg("pdm"), py::arg("box"), py::arg("q") = py::none(),
        py::arg("rot") = std::array<float, 3>{0.0f, 0.0f, 0.0f},
        "Global parameters g (6,) whose rendered shape (q, default 0, rotated by rot) is centred in "
        "box = (x, y, w, h), scale = mean of the width and height ratios (spec 01 §3.7).");

    m.def(
        "params_from_landmarks",
        [](const Pdm& pdm, const carray<float>& landmarks, const carray<float>& rot) {
            check_1d(landmarks, 2 * pdm.n, "landmarks", "x.. then y.., x == 0 means missing");
            const auto r = to3(rot, "rot");
            Global g;
            py::array_t<float> qo(pdm.m);
            float* qp = qo.mutable_data();
            int iters;
            {
                py::gil_scoped_release nogil;
                iters = params_from_landmarks(pdm, landmarks.data(), r, g, qp);
            }
            return py::make_tuple(vec(g), qo, iters);
        },
        py::arg("pdm"), py::arg("landmarks"), py::arg("rot") = std::array<float, 3>{0.0f, 0.0f, 0.0f},
        "Fit (g, q) to (2n,) landmarks by damped, regularised Gauss-Newton (spec 01 §3.8); landmarks "
        "with x == 0 are missing. Returns (g, q, iterations). Raises ValueError if all are missing.");

    // Test hooks for the shared linear-algebra helpers (the NU-RLMS solver uses them in C++).
    m.def(
        "_normal_equations",
        [](const carray<float>& Jw, const carray<float>& J, const carray<float>& mu, py::object isa) {
            if (J.ndim() != 2) throw py::value_error("J must be 2-D, got " + shape_str(J));
            const int rows = static_cast<int>(J.shape(0)), P = static_cast<int>(J.shape(1));
            check_2d(Jw, rows, P, "Jw");
            if (mu.ndim() != 1 || mu.shape(0) != rows)
                throw py::value_error("mu must have shape (rows,), got " + shape_str(mu));
            const Kernels& k = kernels(isa_arg(isa));
            const size_t len = static_cast<size_t>(rows) * P;
            std::vector<float> jw(Jw.data(), Jw.data() + len), j(J.data(), J.data() + len);
            jw.resize(len + kPad, 0.f);  // the kernel reads whole vectors
            j.resize(len + kPad, 0.f);
            const int ldh = pad16(P);
            std::vector<float> h(static_cast<size_t>(P) * ldh, 0.f);
            py::array_t<float> H({P, P}), b(P);
            {
                py::gil_scoped_release nogil;
                k.normal_equations(jw.data(), j.data(), mu.data(), rows, P, h.data(), ldh,
                                   b.mutable_data());
            }
            float* out = H.mutable_data();
            for (int a = 0; a < P; ++a)
                for (int c = 0; c < P; ++c) out[a * P + c] = c <= a ? h[static_cast<size_t>(a) * ldh + c] : 0.f;
            return py::make_tuple(H, b);
        },
        py::arg("Jw"), py::arg("J"), py::arg("mu"), py::arg("isa") = py::none(),
        "(H, b): the normal-equations kernel, H = Jw^T J (lower triangle, upper zeroed) and "
        "b = Jw^T mu, float sums in row order with zero weights skipped (test hook).");

    m.def(
        "_cholesky_solve",
        [](const carray<float>& H, const carray<float>& b, const std::string& impl, py::object isa,
           int repeat) {
            if (b.ndim() != 1) throw py::value_error("b must be 1-D, got " + shape_str(b));
            const int n = static_cast<int>(b.shape(0));
            check_2d(H, n, n, "H");
            const bool reference = impl_arg(impl);
            const Kernels& k = kernels(isa_arg(isa));
            std::vector<float> h(H.data(), H.data() + static_cast<size_t>(n) * n);
            std::vector<float> scratch(cholesky_scratch_floats(n));
            py::array_t<float> x = vec(b.data(), n);
            float* xp = x.mutable_data();
            bool ok = false;
            {
                py::gil_scoped_release nogil;
                for (int r = 0; r < std::max(repeat, 1); ++r) {
                    std::copy(b.data(), b.data() + n, xp);
                    if (reference) {
                        std::copy(H.data(), H.data() + static_cast<size_t>(n) * n, h.begin());
                        ok = linalg::cholesky_solve(h.data(), xp, n);
                    } else {
                        ok = k.cholesky_solve(H.data(), n, xp, n, scratch.data());
                    }
                }
            }
            return py::make_tuple(x, ok);
        },
        py::arg("H"), py::arg("b"), py::arg("impl") = "reference", py::arg("isa") = py::none(),
        py::arg("repeat") = 1,
        "(x, ok): float Cholesky solve of H x = b with double accumulators; ok False and x = 0 when "
        "H is not positive definite (cpp/linalg.hpp; impl='fast': the SIMD kernel, same results). "
        "repeat > 1 reruns the solve (timing).");

    m.def(
        "_svd",
        [](const py::array_t<double, py::array::c_style | py::array::forcecast>& A) {
            if (A.ndim() != 2 || A.shape(0) != A.shape(1) || (A.shape(0) != 2 && A.shape(0) != 3))
                throw py::value_error("A must be 2x2 or 3x3, got " + shape_str(A));
            const int n = static_cast<int>(A.shape(0));
            py::array_t<double> U({n, n}), w(n), Vt({n, n});
            const double* a = A.data();
            double *u = U.mutable_data(), *wp = w.mutable_data(), *v = Vt.mutable_data();
            {
                py::gil_scoped_release nogil;
                if (n == 2) linalg::svd_square<double, 2>(a, u, wp, v);
                else linalg::svd_square<double, 3>(a, u, wp, v);
            }
            return py::make_tuple(U, w, Vt);
        },
        py::arg("A"), "(U, w, Vt) of a 2x2 or 3x3 matrix (double Jacobi SVD, cpp/linalg.hpp).");
}

}  // namespace fastclnf::bindings
