#include "register.hpp"

namespace fastclnf::bindings {
void register_nurlms(py::module_& m) { (void)m; }
}  // namespace fastclnf::bindings
