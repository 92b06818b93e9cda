// Bindings of the CCNF core: CcnfScale from the arrays of models.types.CCNFScale, SigmaSet,
// view selection, similarity transforms, AOI warp and response maps.
#include <algorithm>
#include <string>

#include "ccnf.hpp"
#include "register.hpp"

namespace fastclnf::bindings {

namespace {

std::string shape_str(const py::array& a) {
    std::string s = "(";
    for (py::ssize_t d = 0; d < a.ndim(); ++d) {
        if (d) s += ", ";
        s += std::to_string(a.shape(d));
    }
    return s + (a.ndim() == 1 ? ",)" : ")");
}

// Checks ndim and the given extents (-1 = any); throws ValueError naming the argument.
void check_shape(const py::array& a, const char* name, std::initializer_list<py::ssize_t> shape) {
    bool ok = a.ndim() == static_cast<py::ssize_t>(shape.size());
    py::ssize_t d = 0;
    std::string want = "(";
    for (auto e : shape) {
        if (d) want += ", ";
        want += e < 0 ? std::string("*") : std::to_string(e);
        if (ok && e >= 0 && a.shape(d) != e) ok = false;
        ++d;
    }
    want += shape.size() == 1 ? ",)" : ")";
    if (!ok)
        throw py::value_error(std::string(name) + ": expected shape " + want + ", got " +
                              shape_str(a));
}

}  // namespace

Isa isa_arg(const py::object& isa) {
    if (isa.is_none()) return active_isa();
    Isa v;
    try {
        v = parse_isa(py::cast<std::string>(isa).c_str());
    } catch (const std::invalid_argument& e) {
        throw py::value_error(std::string("isa: ") + e.what());
    }
    if (!isa_supported(v))
        throw py::value_error(std::string("isa: ") + isa_name(v) + " is not supported on this CPU");
    return v;
}

bool impl_arg(const std::string& impl) {
    if (impl == "fast") return false;
    if (impl == "reference") return true;
    throw py::value_error("impl must be 'fast' or 'reference', got '" + impl + "'");
}

GrayImage gray_image(const py::handle& obj, const char* name) {
    GrayImage g;
    if (ImageU8* lazy = lazy_gray_view(obj)) {
        g.is_u8 = true;
        g.lazy_owner = py::reinterpret_borrow<py::object>(obj);
        g.lazy_view = *lazy;
        return g;
    }
    if (!py::isinstance<py::array>(obj))
        throw py::type_error(std::string(name) + ": expected a 2-D numpy array, got " +
                             std::string(py::str(py::type::of(obj).attr("__name__"))));
    const auto img = py::reinterpret_borrow<py::array>(obj);
    if (py::isinstance<py::array_t<uint8_t>>(img)) {
        g.u8 = carray<uint8_t>::ensure(img);
        if (g.u8.ndim() != 2)
            throw py::value_error(std::string(name) + ": expected a 2-D grayscale array, got shape " + shape_str(img));
        g.is_u8 = true;
        return g;
    }
    g.f32 = carray<float>::ensure(img);
    if (!g.f32) throw py::value_error(std::string(name) + ": expected uint8 or float32 pixels");
    if (g.f32.ndim() != 2)
        throw py::value_error(std::string(name) + ": expected a 2-D grayscale array, got shape " + shape_str(img));
    return g;
}

namespace {

ImageF image_view(const carray<float>& img) {
    if (img.ndim() != 2)
        throw py::value_error("img: expected a 2-D grayscale float32 image, got shape " +
                              shape_str(img));
    ImageF v;
    v.data = img.data();
    v.rows = static_cast<int>(img.shape(0));
    v.cols = static_cast<int>(img.shape(1));
    v.stride = v.cols;
    return v;
}

CcnfScale make_scale(double patch_scaling, const carray<double>& view_centres,
                     const carray<int32_t>& visibility, const py::dict& sigma_components,
                     int patch_width, int patch_height, const carray<int32_t>& n_neurons,
                     const carray<double>& norm_weights, const carray<double>& bias,
                     const carray<double>& alpha, const carray<float>& weights,
                     const carray<double>& betas, const carray<double>& confidence,
                     const py::object& neuron_type, const py::object& /*path*/) {
    check_shape(view_centres, "view_centres", {-1, 3});
    const py::ssize_t V = view_centres.shape(0);
    if (V < 1) throw py::value_error("view_centres: at least one view is required");
    check_shape(visibility, "visibility", {V, -1});
    const py::ssize_t n = visibility.shape(1);
    if (patch_width < 1 || patch_height < 1)
        throw py::value_error("patch_width/patch_height must be positive");
    // The AOI warp is square and centred with the width on both axes (spec 01 §5.2); every
    // shipped file has 11x11 patches.
    if (patch_width != patch_height)
        throw py::value_error("non-square patch experts (" + std::to_string(patch_width) + "x" +
                              std::to_string(patch_height) + ") are not supported");
    check_shape(n_neurons, "n_neurons", {V, n});
    check_shape(norm_weights, "norm_weights", {V, n, -1});
    const py::ssize_t K = norm_weights.shape(2);
    check_shape(bias, "bias", {V, n, K});
    check_shape(alpha, "alpha", {V, n, K});
    check_shape(weights, "weights", {V, n, K, patch_height, patch_width});
    check_shape(betas, "betas", {V, n, -1});
    const py::ssize_t B = betas.shape(2);
    check_shape(confidence, "confidence", {V, n});

    CcnfScale s;
    s.patch_scaling = patch_scaling;
    s.n = static_cast<int>(n);
    s.n_views = static_cast<int>(V);
    s.pw = patch_width;
    s.ph = patch_height;
    s.view_centres.resize(3 * V);
    // Centres are radians in double in the file reader; view selection compares floats (§6).
    for (py::ssize_t t = 0; t < 3 * V; ++t) s.view_centres[t] = static_cast<float>(view_centres.data()[t]);
    s.visibility.assign(visibility.data(), visibility.data() + V * n);

    for (auto item : sigma_components) {
        const int ws = py::cast<int>(item.first);
        const auto comps = carray<float>::ensure(item.second);
        if (!comps) throw py::value_error("sigma_components[" + std::to_string(ws) +
                                          "]: not convertible to a float32 array");
        const py::ssize_t N = static_cast<py::ssize_t>(ws) * ws;
        auto& list = s.sigma_components[ws];
        if (comps.size() == 0) continue;  // N_s = 0 (eye models): Q = alpha_sum I
        check_shape(comps, ("sigma_components[" + std::to_string(ws) + "]").c_str(), {-1, N, N});
        for (py::ssize_t c = 0; c < comps.shape(0); ++c)
            list.emplace_back(comps.data() + c * N * N, comps.data() + (c + 1) * N * N);
    }

    py::object nt_obj = neuron_type.is_none() ? py::object() : neuron_type;
    carray<int32_t> nt;
    if (nt_obj) {
        nt = carray<int32_t>::ensure(nt_obj);
        if (!nt) throw py::value_error("neuron_type: not convertible to an int32 array");
        check_shape(nt, "neuron_type", {V, n, K});
    }

    const int h = patch_height, w = patch_width;
    s.experts.resize(static_cast<size_t>(V) * n);
    for (py::ssize_t v = 0; v < V; ++v)
        for (py::ssize_t i = 0; i < n; ++i) {
            const py::ssize_t idx = v * n + i;
            if (!s.visibility[idx]) continue;  // empty expert (§4.3)
            const int k = n_neurons.data()[idx];
            if (k < 1 || k > K)
                throw py::value_error("view " + std::to_string(v) + ", landmark " +
                                      std::to_string(i) + " is visible but has " +
                                      std::to_string(k) + " neurons (expected 1.." +
                                      std::to_string(K) + ")");
            if (nt)
                for (int t = 0; t < k; ++t)
                    if (nt.data()[idx * K + t] != 0)
                        throw py::value_error("view " + std::to_string(v) + ", landmark " +
                                              std::to_string(i) + ": neuron type " +
                                              std::to_string(nt.data()[idx * K + t]) +
                                              " (only raw-intensity neurons, type 0, are supported)");
            s.experts[idx] =
                make_expert(k, norm_weights.data() + idx * K, bias.data() + idx * K,
                            alpha.data() + idx * K, weights.data() + idx * K * h * w, h, w,
                            betas.data() + idx * B, static_cast<int>(B), confidence.data()[idx]);
        }
    return s;
}

// (V, n) array of one per-expert float value.
py::array_t<float> per_expert(const CcnfScale& s, float (*get)(const CcnfExpert&)) {
    py::array_t<float> out({s.n_views, s.n});
    float* o = out.mutable_data();
    for (size_t t = 0; t < s.experts.size(); ++t) o[t] = s.visibility[t] ? get(s.experts[t]) : 0.f;
    return out;
}

void check_view(const CcnfScale& s, int view) {
    if (view < 0 || view >= s.n_views)
        throw py::value_error("view " + std::to_string(view) + " out of range [0, " +
                              std::to_string(s.n_views) + ")");
}

void check_ws(int ws) {
    if (ws < 1 || ws > 101) throw py::value_error("ws: window size out of range, got " + std::to_string(ws));
}

}  // namespace

void register_ccnf(py::module_& m) {
    py::class_<CcnfScale>(m, "CcnfScale",
                          "One scale of CCNF patch experts in the core's form (spec 01 §4.4): per "
                          "(view, landmark) the packed neuron matrix M, kept alphas, alpha sum, "
                          "betas and confidence, plus the sigma components. Build it with "
                          "fastclnf.models.core_adapter.make_core_scale(CCNFScale).")
        .def(py::init(&make_scale), py::kw_only(), py::arg("patch_scaling"),
             py::arg("view_centres"), py::arg("visibility"), py::arg("sigma_components"),
             py::arg("patch_width"), py::arg("patch_height"), py::arg("n_neurons"),
             py::arg("norm_weights"), py::arg("bias"), py::arg("alpha"), py::arg("weights"),
             py::arg("betas"), py::arg("confidence"), py::arg("neuron_type") = py::none(),
             py::arg("path") = py::none(),
             "Keyword arguments are the fields of models.types.CCNFScale (path and neuron_type "
             "optional; only type-0 neurons are supported).")
        .def_property_readonly("n", [](const CcnfScale& s) { return s.n; })
        .def_property_readonly("n_views", [](const CcnfScale& s) { return s.n_views; })
        .def_property_readonly("patch_scaling", [](const CcnfScale& s) { return s.patch_scaling; })
        .def_property_readonly("patch_width", [](const CcnfScale& s) { return s.pw; })
        .def_property_readonly("patch_height", [](const CcnfScale& s) { return s.ph; })
        .def_property_readonly(
            "window_sizes",
            [](const CcnfScale& s) {
                std::vector<int> w;
                for (const auto& kv : s.sigma_components) w.push_back(kv.first);
                return w;
            },
            "Window sizes with a sigma-component block (possibly with 0 components).")
        .def_property_readonly(
            "view_centres",
            [](const CcnfScale& s) {
                py::array_t<float> out({s.n_views, 3});
                std::copy(s.view_centres.begin(), s.view_centres.end(), out.mutable_data());
                return out;
            },
            "(V, 3) float32 view centres in radians (pitch, yaw, roll).")
        .def_property_readonly(
            "visibility",
            [](const CcnfScale& s) {
                py::array_t<int32_t> out({s.n_views, s.n});
                std::copy(s.visibility.begin(), s.visibility.end(), out.mutable_data());
                return out;
            },
            "(V, n) int32, 1 = landmark has an expert in that view.")
        .def_property_readonly(
            "confidence",
            [](const CcnfScale& s) {
                return per_expert(s, [](const CcnfExpert& e) { return e.confidence; });
            },
            "(V, n) float32 patch_confidence (0 where invisible), for the NU-RLMS weights.")
        .def_property_readonly(
            "alpha_sum",
            [](const CcnfScale& s) {
                return per_expert(s, [](const CcnfExpert& e) { return e.alpha_sum; });
            },
            "(V, n) float32 sum of all alphas of each expert (the Q diagonal term, spec 01 §5.5).");

    py::class_<SigmaSet>(m, "SigmaSet",
                         "Sigma = (2Q)^-1 of every visible expert of a scale for one window size "
                         "(spec 01 §5.5). Build with build_sigmas().")
        .def_property_readonly("ws", [](const SigmaSet& s) { return s.ws; })
        .def_property_readonly("n_views", [](const SigmaSet& s) { return s.n_views; })
        .def_property_readonly("n", [](const SigmaSet& s) { return s.n; })
        .def(
            "sigma",
            [](const SigmaSet& s, int view, int i) -> py::object {
                if (view < 0 || view >= s.n_views || i < 0 || i >= s.n)
                    throw py::value_error("(view, i) = (" + std::to_string(view) + ", " +
                                          std::to_string(i) + ") out of range");
                const auto& v = s.sigma[static_cast<size_t>(view) * s.n + i];
                if (v.empty()) return py::none();
                const int N = s.ws * s.ws;
                py::array_t<float> out({N, N});
                std::copy(v.begin(), v.end(), out.mutable_data());
                return out;
            },
            py::arg("view"), py::arg("i"),
            "Sigma of expert (view, i) as (ws^2, ws^2) float32, or None where not built "
            "(invisible landmark, or another view with build_sigmas(..., view=v)).")
        .def("view_built", &SigmaSet::view_built, py::arg("view"))
        .def_property_readonly("lazy", &SigmaSet::lazy)
        .def(
            "ensure_view",
            [](const SigmaSet& s, int view, int threads) {
                try {
                    py::gil_scoped_release nogil;
                    s.ensure_view(view, threads);
                } catch (const std::invalid_argument& e) {
                    throw py::value_error(e.what());
                }
            },
            py::arg("view"), py::arg("threads") = 0,
            "Build the Sigmas of `view` now if this lazy set has not (threads=0: all cores).");

    m.def(
        "build_sigmas",
        [](const CcnfScale& scale, int ws, py::object view, bool lazy) {
            check_ws(ws);
            if (lazy) {
                if (!view.is_none()) throw py::value_error("build_sigmas: view and lazy exclude each other");
                return build_sigmas_lazy(scale, ws);
            }
            if (view.is_none()) {
                py::gil_scoped_release nogil;
                return build_sigmas(scale, ws);
            }
            const int v = py::cast<int>(view);
            check_view(scale, v);
            py::gil_scoped_release nogil;
            return build_sigmas_view(scale, ws, v);
        },
        py::arg("scale"), py::arg("ws"), py::arg("view") = py::none(), py::arg("lazy") = false,
        "Sigma matrices (2Q)^-1 for window ws of every visible expert, or only those of one view, "
        "or (lazy=True) none yet: fit_scale then builds each view the first time it selects it "
        "(thread-safe). Windows without sigma components give I/(2 alpha_sum) (spec 01 §5.5).");

    m.def(
        "view_index",
        [](const CcnfScale& scale, float rx, float ry, float rz) {
            return view_index(scale, rx, ry, rz);
        },
        py::arg("scale"), py::arg("rx"), py::arg("ry"), py::arg("rz"),
        "Index of the view whose (pitch, yaw, roll) centre is nearest (float, ties to the lowest "
        "index; spec 01 §6).");

    m.def(
        "align_with_scale",
        [](const carray<float>& src, const carray<float>& dst) {
            if (src.ndim() != 1 || src.shape(0) % 2 != 0 || src.shape(0) < 2)
                throw py::value_error("src2n: expected a (2n,) shape [x..., y...], got " +
                                      shape_str(src));
            check_shape(dst, "dst2n", {src.shape(0)});
            const int n = static_cast<int>(src.shape(0) / 2);
            std::array<float, 4> A;
            {
                py::gil_scoped_release nogil;
                A = align_with_scale(src.data(), dst.data(), n);
            }
            py::array_t<float> out({2, 2});
            std::copy(A.begin(), A.end(), out.mutable_data());
            return out;
        },
        py::arg("src2n"), py::arg("dst2n"),
        "2x2 float32 similarity A mapping centred src offsets to dst offsets (AlignWithScale, "
        "spec 01 §5.1: RMS-radius scale ratio times the Kabsch rotation). With src = image "
        "landmarks and dst = reference shape this is sim_img_to_ref.");

    m.def(
        "invert2x2",
        [](const carray<float>& A) {
            check_shape(A, "A", {2, 2});
            std::array<float, 4> a{A.data()[0], A.data()[1], A.data()[2], A.data()[3]};
            const auto r = invert2x2(a);
            py::array_t<float> out({2, 2});
            std::copy(r.begin(), r.end(), out.mutable_data());
            return out;
        },
        py::arg("A"), "Inverse of a 2x2 float32 matrix (double determinant; zeros if singular).");

    m.def(
        "warp_aoi",
        [](const carray<float>& img, float x, float y, float a, float b, int W, bool exact) {
            const ImageF im = image_view(img);
            if (W < 1 || W > 1024) throw py::value_error("W out of range");
            py::array_t<float> out({W, W});
            float* o = out.mutable_data();
            {
                py::gil_scoped_release nogil;
                if (exact)
                    warp_aoi_exact(im, x, y, a, b, W, o);
                else
                    warp_aoi(im, x, y, a, b, W, o);
            }
            return out;
        },
        py::arg("img"), py::arg("x"), py::arg("y"), py::arg("a"), py::arg("b"), py::arg("W"),
        py::arg("exact") = false,
        "W x W area of interest centred on (x, y): out[v, u] = img(x + a(u-c) - b(v-c), "
        "y + b(u-c) + a(v-c)), c = (W-1)/2, bilinear with constant-0 border. Default: OpenCV-4.x "
        "1/32-px fixed-point sampling (the reference, spec 01 §5.2); exact=True: float positions "
        "(OpenCV 5 kernels).");

    m.def(
        "expert_response",
        [](const CcnfScale& scale, int view, int i, const carray<float>& aoi, int ws,
           const SigmaSet* sigmas, const std::string& stage, const std::string& impl,
           py::object isa_obj) {
            check_view(scale, view);
            check_ws(ws);
            if (i < 0 || i >= scale.n) throw py::value_error("landmark index out of range");
            const size_t idx = static_cast<size_t>(view) * scale.n + i;
            if (!scale.visibility[idx])
                throw py::value_error("landmark " + std::to_string(i) + " has no expert in view " +
                                      std::to_string(view));
            const int W = ws + scale.pw - 1;
            check_shape(aoi, "aoi", {W, W});
            const float* sig = nullptr;
            const float* sig_t = nullptr;
            if (sigmas) {
                if (sigmas->ws != ws)
                    throw py::value_error("sigmas built for window " + std::to_string(sigmas->ws) +
                                          ", not " + std::to_string(ws));
                if (sigmas->n_views != scale.n_views || sigmas->n != scale.n)
                    throw py::value_error("sigmas hold no Sigma for this view/landmark");
                if (sigmas->lazy()) {
                    py::gil_scoped_release nogil;
                    sigmas->ensure_view(view);
                }
                if (sigmas->sigma[idx].empty())
                    throw py::value_error("sigmas hold no Sigma for this view/landmark");
                sig = sigmas->sigma[idx].data();
                sig_t = sigmas->sigma_t_of(idx);
            }
            if (stage != "final" && stage != "raw" && stage != "sigma")
                throw py::value_error("stage must be 'final', 'raw' or 'sigma'");
            const bool reference = impl_arg(impl);
            const Isa isa = isa_arg(isa_obj);
            py::array_t<float> out({ws, ws});
            float* o = out.mutable_data();
            {
                py::gil_scoped_release nogil;
                const auto& e = scale.experts[idx];
                if (stage == "final") {
                    if (reference)
                        expert_response_reference(e, scale.pw, scale.ph, aoi.data(), ws, sig, o);
                    else
                        expert_response(e, scale.pw, scale.ph, aoi.data(), ws, sig_t, o, isa);
                } else {
                    std::vector<float> r(static_cast<size_t>(ws) * ws);
                    if (reference)
                        expert_raw_response(e, scale.pw, scale.ph, aoi.data(), ws, r.data());
                    else
                        expert_raw_response_fast(e, scale.pw, scale.ph, aoi.data(), ws, r.data(), isa);
                    if (stage == "raw")
                        std::copy(r.begin(), r.end(), o);
                    else
                        apply_sigma(e, sig, ws, r.data(), o);
                }
            }
            return out;
        },
        py::arg("scale"), py::arg("view"), py::arg("i"), py::arg("aoi"), py::arg("ws"),
        py::arg("sigmas") = nullptr, py::arg("stage") = "final", py::arg("impl") = "fast",
        py::arg("isa") = py::none(),
        "Response map (ws, ws) of expert (view, i) on an AOI of (ws+pw-1)^2 float32 samples "
        "(spec 01 §5.3-5.6). sigmas=None uses Sigma = I/(2 alpha_sum). stage: 'final', 'raw' "
        "(sigmoid sum only) or 'sigma' (Sigma r before negative removal). impl: 'fast' (SIMD "
        "kernels at level `isa`, default the active one) or 'reference' (the scalar code).");

    m.def(
        "responses",
        [](const py::object& img_obj, const CcnfScale& scale, const SigmaSet& sigmas, int view,
           int ws, const carray<float>& landmarks2n, float a, float b, py::object out,
           const std::string& impl, py::object isa_obj) {
            const GrayImage img = gray_image(img_obj, "img");
            check_view(scale, view);
            check_ws(ws);
            check_shape(landmarks2n, "landmarks2n", {2 * static_cast<py::ssize_t>(scale.n)});
            if (sigmas.ws != ws)
                throw py::value_error("sigmas built for window " + std::to_string(sigmas.ws) +
                                      ", not " + std::to_string(ws));
            const bool reference = impl_arg(impl);
            const Isa isa = isa_arg(isa_obj);
            py::array_t<float> maps;
            if (out.is_none()) {
                maps = py::array_t<float>({scale.n, ws, ws});
                std::fill(maps.mutable_data(), maps.mutable_data() + maps.size(), 0.f);
            } else {
                // Written in place: invisible landmarks' maps are left as they are.
                if (!py::isinstance<py::array_t<float>>(out))
                    throw py::value_error("out: expected a float32 array");
                maps = py::reinterpret_borrow<py::array_t<float>>(out);
                check_shape(maps, "out", {scale.n, ws, ws});
                if (!(maps.flags() & py::array::c_style) || !maps.writeable())
                    throw py::value_error("out: must be C-contiguous and writeable");
            }
            float* o = maps.mutable_data();
            try {
                py::gil_scoped_release nogil;
                if (sigmas.lazy() && sigmas.n_views == scale.n_views) sigmas.ensure_view(view);
                if (img.is_u8)
                    responses(img.u8_view(), scale, sigmas, view, ws, landmarks2n.data(), a, b, o,
                              isa, reference);
                else
                    responses(img.f32_view(), scale, sigmas, view, ws, landmarks2n.data(), a, b, o,
                              isa, reference);
            } catch (const std::invalid_argument& e) {
                throw py::value_error(e.what());
            }
            return maps;
        },
        py::arg("img"), py::arg("scale"), py::arg("sigmas"), py::arg("view"), py::arg("ws"),
        py::arg("landmarks2n"), py::arg("a"), py::arg("b"), py::arg("out") = py::none(),
        py::arg("impl") = "fast", py::arg("isa") = py::none(),
        "(n, ws, ws) float32 response maps of the visible landmarks of `view` around the current "
        "2-D shape landmarks2n = [x..., y...]; a, b from sim_ref_to_img (a = [0][0], b = -[0][1], "
        "spec 01 §5.1). img: 2-D uint8 (sampled directly) or float32. Invisible landmarks' maps "
        "are zero, or untouched when `out` is given. impl/isa as for expert_response.");
}

}  // namespace fastclnf::bindings
