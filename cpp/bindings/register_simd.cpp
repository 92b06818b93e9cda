// Which SIMD level the kernels run at (cpp/simd.hpp).
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
}

}  // namespace fastclnf::bindings
