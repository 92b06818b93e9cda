#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

namespace fastclnf::bindings {
namespace py = pybind11;

// C-contiguous arrays of a given dtype, converted (copied) only when the caller's array is not
// already in that form.
template <typename T>
using carray = py::array_t<T, py::array::c_style | py::array::forcecast>;

void register_pdm(py::module_& m);
void register_ccnf(py::module_& m);
void register_meanshift(py::module_& m);
void register_nurlms(py::module_& m);
void register_mtcnn(py::module_& m);
void register_validator(py::module_& m);
}  // namespace fastclnf::bindings
