// fastclnf._core: creates the module and registers one concept per file. Bindings only convert
// arrays, release the GIL and call the pure C++ core in ../.
#include "register.hpp"

PYBIND11_MODULE(_core, m) {
    m.doc() = "fastclnf C++ core (PDM, CCNF responses, KDE mean-shift, NU-RLMS)";
    fastclnf::bindings::register_simd(m);
    fastclnf::bindings::register_pdm(m);
    fastclnf::bindings::register_ccnf(m);
    fastclnf::bindings::register_meanshift(m);
    fastclnf::bindings::register_nurlms(m);
    fastclnf::bindings::register_mtcnn(m);
    fastclnf::bindings::register_validator(m);
    fastclnf::bindings::register_schedule(m);
    fastclnf::bindings::register_image(m);
}
