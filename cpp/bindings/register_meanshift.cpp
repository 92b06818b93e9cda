#include "register.hpp"

namespace fastclnf::bindings {
void register_meanshift(py::module_& m) { (void)m; }
}  // namespace fastclnf::bindings
