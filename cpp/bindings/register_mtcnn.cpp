// Bindings for the shared CNN runner and the MTCNN face detector (cpp/cnn.hpp, cpp/mtcnn.hpp).
#include <memory>

#include "../cnn_kernels.hpp"
#include "../mtcnn.hpp"
#include "net_from_python.hpp"
#include "register.hpp"

namespace fastclnf::bindings {

namespace {

struct PyCNN {
    cnn::Net net;
};

py::array_t<float> tensor_to_numpy(const cnn::Tensor& t) {
    if (t.flat) {
        py::array_t<float> out(t.c);
        std::copy(t.data.begin(), t.data.end(), out.mutable_data());
        return out;
    }
    py::array_t<float> out({t.c, t.h, t.w});
    std::copy(t.data.begin(), t.data.end(), out.mutable_data());
    return out;
}

py::array_t<float> boxes_to_numpy(const std::vector<mtcnn::Box>& boxes) {
    py::array_t<float> out({static_cast<py::ssize_t>(boxes.size()), static_cast<py::ssize_t>(5)});
    float* o = out.mutable_data();
    for (const auto& b : boxes) {
        *o++ = b.x;
        *o++ = b.y;
        *o++ = b.w;
        *o++ = b.h;
        *o++ = b.score;
    }
    return out;
}

}  // namespace

void register_mtcnn(py::module_& m) {
    py::class_<PyCNN, std::shared_ptr<PyCNN>>(m, "CNN", "A feed-forward net of OpenFace layer records.")
        .def(py::init([](const py::sequence& layers) {
                 auto p = std::make_shared<PyCNN>();
                 p->net = net_from_python(layers);
                 return p;
             }),
             py::arg("layers"))
        .def(
            "forward",
            [](const PyCNN& self, const carray<float>& x, bool reference, const py::object& isa) {
                if (x.ndim() != 3) throw py::value_error("input must be (C, H, W) float32");
                cnn::Tensor t;
                t.c = static_cast<int>(x.shape(0));
                t.h = static_cast<int>(x.shape(1));
                t.w = static_cast<int>(x.shape(2));
                cnn::output_shape(self.net, t.c, t.h, t.w);  // throws ValueError on a mismatch
                const Isa level = isa_arg(isa);
                t.data.assign(x.data(), x.data() + x.size());
                {
                    py::gil_scoped_release release;
                    cnn::Workspace ws;
                    ws.kernels = &cnn::cnn_kernels(level);
                    if (reference)
                        cnn::forward_reference(self.net, t, ws);
                    else
                        cnn::forward(self.net, t, ws);
                }
                return tensor_to_numpy(t);
            },
            py::arg("x"), py::arg("reference") = false, py::arg("isa") = py::none(),
            "Run the net on C maps of H x W; returns maps (C', H', W') or a vector. reference=True: "
            "the scalar im2col path (unfused float arithmetic at every SIMD level); isa: the SIMD "
            "level of the direct kernels ('generic', 'avx2', 'avx512'; default the active one).");

    py::class_<mtcnn::Nets, std::shared_ptr<mtcnn::Nets>>(m, "MTCNN", "MTCNN detector (spec 03 §1).")
        .def(py::init([](const py::sequence& pnet, const py::sequence& rnet, const py::sequence& onet) {
                 auto p = std::make_shared<mtcnn::Nets>();
                 p->pnet = net_from_python(pnet);
                 p->rnet = net_from_python(rnet);
                 p->onet = net_from_python(onet);
                 mtcnn::check_nets(*p);
                 return p;
             }),
             py::arg("pnet"), py::arg("rnet"), py::arg("onet"))
        .def(
            "detect",
            [](const mtcnn::Nets& self, const py::array_t<std::uint8_t>& img, bool bgr) {
                // Any strides (views of a larger image, channel-reversed views): the core reads
                // through them, so no copy of the image is made.
                if (img.ndim() != 2 && !(img.ndim() == 3 && (img.shape(2) == 3 || img.shape(2) == 4)))
                    throw py::value_error("image must be (H, W) gray or (H, W, 3|4) uint8");
                mtcnn::ImageView v;
                v.p = img.data();
                v.rows = static_cast<int>(img.shape(0));
                v.cols = static_cast<int>(img.shape(1));
                v.row_stride = img.strides(0);
                v.pix_stride = img.strides(1);
                if (img.ndim() == 3)
                    for (int c = 0; c < 3; ++c) v.chan[c] = (bgr ? 2 - c : c) * img.strides(2);
                std::vector<mtcnn::Box> boxes;
                {
                    py::gil_scoped_release release;
                    boxes = mtcnn::detect(self, v);
                }
                return boxes_to_numpy(boxes);
            },
            py::arg("image"), py::arg("bgr") = false,
            "Detect faces in a uint8 (H, W) gray or (H, W, 3|4) image, channels R, G, B (bgr=False) or "
            "B, G, R (bgr=True; a 4th channel is ignored), any strides; returns (k, 5) float32 "
            "[x, y, w, h, score] CLNF boxes in descending score.");

    m.def(
        "mtcnn_nms",
        [](const carray<float>& boxes, float thr, const std::string& mode) {
            if (boxes.ndim() != 2 || boxes.shape(1) != 5) throw py::value_error("boxes must be (n, 5)");
            if (mode != "union" && mode != "min") throw py::value_error("mode must be 'union' or 'min'");
            std::vector<mtcnn::Box> b(boxes.shape(0));
            for (std::size_t i = 0; i < b.size(); ++i) {
                const float* r = boxes.data() + 5 * i;
                b[i] = {r[0], r[1], r[2], r[3], r[4]};
            }
            return mtcnn::nms(b, thr, mode == "union" ? mtcnn::Overlap::Union : mtcnn::Overlap::Min);
        },
        py::arg("boxes"), py::arg("threshold"), py::arg("mode"),
        "MTCNN NMS (spec 03 §1.7) on [x, y, w, h, score] rows; returns kept indices in order.");
    m.def("mtcnn_pyramid_levels", [](int m_side) { return mtcnn::pyramid_levels(m_side); }, py::arg("min_side"),
          "Number of MTCNN pyramid scales for an image whose smaller side is min_side.");
    m.def(
        "resize_bilinear",
        [](const carray<float>& src, int oh, int ow) {
            if (src.ndim() != 3) throw py::value_error("src must be (C, H, W) float32");
            if (oh < 1 || ow < 1 || src.shape(1) < 1 || src.shape(2) < 1) throw py::value_error("empty size");
            py::array_t<float> out({static_cast<int>(src.shape(0)), oh, ow});
            mtcnn::resize_bilinear(src.data(), static_cast<int>(src.shape(0)), static_cast<int>(src.shape(1)),
                                   static_cast<int>(src.shape(2)), out.mutable_data(), oh, ow);
            return out;
        },
        py::arg("src"), py::arg("height"), py::arg("width"),
        "OpenCV-style INTER_LINEAR resize of float32 maps (spec 03 §0).");
}

}  // namespace fastclnf::bindings
