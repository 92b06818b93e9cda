#include "register.hpp"

namespace fastclnf::bindings {
void register_ccnf(py::module_& m) { (void)m; }
}  // namespace fastclnf::bindings
