# Every dependency comes from Debian's packages (scripts/setup installs them).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(ZLIB REQUIRED)
find_package(fmt REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(CLI11 REQUIRED)
find_package(GDCM REQUIRED)
# libpng: the pictures of search explanations (voxir/explain.h).
find_package(PNG REQUIRED)

# nifti_clib: Debian's CMake config for it is broken, so locate the pieces directly.
find_path(NIFTI_INCLUDE_DIR nifti2_io.h PATH_SUFFIXES nifti REQUIRED)
find_library(NIFTI2_LIBRARY nifti2 REQUIRED)
find_library(ZNZ_LIBRARY znz REQUIRED)
add_library(voxir_nifti INTERFACE)
target_include_directories(voxir_nifti SYSTEM INTERFACE ${NIFTI_INCLUDE_DIR})
target_link_libraries(voxir_nifti INTERFACE ${NIFTI2_LIBRARY} ${ZNZ_LIBRARY} ZLIB::ZLIB m)

pkg_check_modules(LIBDEFLATE REQUIRED IMPORTED_TARGET libdeflate)
# cpp-httplib: Debian builds it as a shared library; its .pc carries the feature defines
# (OpenSSL, zlib, brotli) the header must be compiled with.
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
# OpenSSL's libcrypto (which cpp-httplib links already): base64 of the server's inline PNGs.
find_package(OpenSSL REQUIRED COMPONENTS Crypto)
# libarchive: zips of DICOM series uploaded to voxir serve (apps/server only; the library never
# reads archives).
pkg_check_modules(LIBARCHIVE REQUIRED IMPORTED_TARGET libarchive)

# libtorch (Debian libtorch-dev) for TorchScript models; optional: without it, torchscript:
# specs fail with kUnsupported. scripts/setup installs it, so the normal build has it.
option(VOXIR_WITH_TORCH "Build the TorchScript embedder with libtorch when it is found" ON)
set(VOXIR_HAVE_TORCH OFF)
if(VOXIR_WITH_TORCH)
  find_package(Torch QUIET)
  if(Torch_FOUND)
    set(VOXIR_HAVE_TORCH ON)
  else()
    message(STATUS "libtorch not found: torchscript: embedders disabled (install libtorch-dev)")
  endif()
endif()

# Vector search: Faiss (static, no pkg-config; its CMake config needs OpenMP found first) and
# hnswlib (header-only, /usr/include/hnswlib). SQLite for the index catalog.
find_package(OpenMP REQUIRED)
find_package(faiss CONFIG REQUIRED)
find_package(SQLite3 REQUIRED)
