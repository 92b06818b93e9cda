#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "common.hpp"
#include "simd.hpp"

namespace fastclnf::bindings {
namespace py = pybind11;

// C-contiguous arrays of a given dtype, converted (copied) only when the caller's array is not
// already in that form.
template <typename T>
using carray = py::array_t<T, py::array::c_style | py::array::forcecast>;

// A 2-D grayscale image argument: uint8 (sampled directly, no float copy), a LazyGray
// (register_image.cpp: a colour frame converted on demand), or anything convertible to float32.
struct GrayImage {
    bool is_u8 = false;
    carray<uint8_t> u8;
    carray<float> f32;
    py::object lazy_owner;  // keeps the LazyGray (and its source frame) alive
    ImageU8 lazy_view;      // valid when lazy_owner is set
    int rows() const { return lazy_owner ? lazy_view.rows : static_cast<int>(is_u8 ? u8.shape(0) : f32.shape(0)); }
    int cols() const { return lazy_owner ? lazy_view.cols : static_cast<int>(is_u8 ? u8.shape(1) : f32.shape(1)); }
    ImageU8 u8_view() const { return lazy_owner ? lazy_view : ImageU8{u8.data(), rows(), cols(), cols()}; }
    ImageF f32_view() const { return {f32.data(), rows(), cols(), cols()}; }
};
GrayImage gray_image(const py::handle& img, const char* name);
// The LazyGray behind a Python object, or null when it is something else.
ImageU8* lazy_gray_view(const py::handle& obj);
// isa=None -> active_isa(); "generic" / "avx2" / "avx512" (ValueError if unsupported).
Isa isa_arg(const py::object& isa);
// impl="fast" -> false, "reference" -> true.
bool impl_arg(const std::string& impl);

void register_simd(py::module_& m);
void register_pdm(py::module_& m);
void register_ccnf(py::module_& m);
void register_meanshift(py::module_& m);
void register_nurlms(py::module_& m);
void register_mtcnn(py::module_& m);
void register_validator(py::module_& m);
void register_schedule(py::module_& m);
void register_image(py::module_& m);
}  // namespace fastclnf::bindings
