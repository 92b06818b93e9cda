// Converts a network given from Python as a sequence of layer tuples into cnn::Net. Shared by
// register_mtcnn.cpp and register_validator.cpp. Tuples (fastclnf.models.cnn.core_layers):
//   ("conv", weights (n_out, n_in, kh, kw) f32, bias (n_out,) f32)
//   ("pool", kx, ky, sx, sy)
//   ("fc", weights (n_in, n_out) f32, bias (n_out,) f32)
//   ("prelu", slopes (C,) f32), ("relu",), ("sigmoid",)
#pragma once
#include <string>

#include "../cnn.hpp"
#include "register.hpp"

namespace fastclnf::bindings {

inline std::vector<float> to_vector(const carray<float>& a) {
    return std::vector<float>(a.data(), a.data() + a.size());
}

inline cnn::Net net_from_python(const py::sequence& layers) {
    cnn::Net net;
    for (py::handle item : layers) {
        auto t = py::reinterpret_borrow<py::tuple>(item);
        if (t.size() < 1) throw py::value_error("empty layer tuple");
        const std::string kind = t[0].cast<std::string>();
        cnn::Layer L;
        if (kind == "conv") {
            if (t.size() != 3) throw py::value_error("conv layer needs (kind, weights, bias)");
            auto w = t[1].cast<carray<float>>();
            auto b = t[2].cast<carray<float>>();
            if (w.ndim() != 4) throw py::value_error("conv weights must be (n_out, n_in, kh, kw)");
            L.kind = cnn::LayerKind::Conv;
            L.n_out = static_cast<int>(w.shape(0));
            L.n_in = static_cast<int>(w.shape(1));
            L.kh = static_cast<int>(w.shape(2));
            L.kw = static_cast<int>(w.shape(3));
            L.weights = to_vector(w);
            L.bias = to_vector(b);
        } else if (kind == "pool") {
            if (t.size() != 5) throw py::value_error("pool layer needs (kind, kx, ky, sx, sy)");
            L.kind = cnn::LayerKind::MaxPool;
            L.kx = t[1].cast<int>();
            L.ky = t[2].cast<int>();
            L.sx = t[3].cast<int>();
            L.sy = t[4].cast<int>();
        } else if (kind == "fc") {
            if (t.size() != 3) throw py::value_error("fc layer needs (kind, weights, bias)");
            auto w = t[1].cast<carray<float>>();
            auto b = t[2].cast<carray<float>>();
            if (w.ndim() != 2) throw py::value_error("fc weights must be (n_in, n_out)");
            L.kind = cnn::LayerKind::FullyConnected;
            L.n_in = static_cast<int>(w.shape(0));
            L.n_out = static_cast<int>(w.shape(1));
            L.weights = to_vector(w);
            L.weights_t.resize(L.weights.size());
            for (int i = 0; i < L.n_in; ++i)
                for (int o = 0; o < L.n_out; ++o)
                    L.weights_t[static_cast<std::size_t>(o) * L.n_in + i] =
                        L.weights[static_cast<std::size_t>(i) * L.n_out + o];
            L.bias = to_vector(b);
        } else if (kind == "prelu") {
            if (t.size() != 2) throw py::value_error("prelu layer needs (kind, slopes)");
            L.kind = cnn::LayerKind::PReLU;
            L.weights = to_vector(t[1].cast<carray<float>>());
        } else if (kind == "relu") {
            L.kind = cnn::LayerKind::ReLU;
        } else if (kind == "sigmoid") {
            L.kind = cnn::LayerKind::Sigmoid;
        } else {
            throw py::value_error("unknown layer kind '" + kind + "'");
        }
        try {
            cnn::check_layer(L);
        } catch (const std::invalid_argument& e) {
            throw py::value_error(std::string("layer ") + std::to_string(net.size()) + ": " + e.what());
        }
        cnn::pack(L);
        net.push_back(std::move(L));
    }
    return net;
}

}  // namespace fastclnf::bindings
