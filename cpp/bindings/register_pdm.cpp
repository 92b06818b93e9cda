#include "register.hpp"

namespace fastclnf::bindings {
void register_pdm(py::module_& m) { (void)m; }
}  // namespace fastclnf::bindings
