// Which SIMD level the kernels run at (cpp/simd.hpp), plus test hooks for the exponentials.
#include "fastexp.hpp"
#include "kernels.hpp"
#include "register.hpp"

namespace fastclnf::bindings {

void register_simd(py::module_& m) {
    m.def("simd_level", []() { return std::string(isa_name(active_isa())); },
          "SIMD level of the fast kernels in this process: 'generic', 'avx2' or 'avx512' (the best "
          "the CPU supports, capped by $FASTCLNF_SIMD).");
    m.def(
        "simd_levels",
        []() {
            std::vector<std::string> out;
            for (Isa i : {Isa::generic, Isa::avx2, Isa::avx512})
                if (isa_supported(i)) out.push_back(isa_name(i));
            return out;
        },
        "SIMD levels this CPU and build can run, lowest first.");
    m.def(
        "_expf",
        [](const carray<float>& x) {
            py::array_t<float> out(x.size());
            float* o = out.mutable_data();
            for (py::ssize_t i = 0; i < x.size(); ++i) o[i] = fastexp::expf(x.data()[i]);
            return out;
        },
        py::arg("x"), "Test hook: the neuron sigmoid's float exp (cpp/fastexp.hpp), elementwise.");
    m.def(
        "_exp",
        [](const py::array_t<double, py::array::c_style | py::array::forcecast>& x, py::object isa) {
            const Kernels& k = kernels(isa_arg(isa));
            py::array_t<double> out(x.size());
            k.exp(x.data(), static_cast<int>(x.size()), out.mutable_data());
            return out;
        },
        py::arg("x"), py::arg("isa") = py::none(),
        "Test hook: the kernels' vectorised double exp (likelihoods), elementwise.");
}

}  // namespace fastclnf::bindings
