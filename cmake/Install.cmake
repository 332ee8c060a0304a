# cmake --install <build> [--prefix P]: the voxir command, the public headers, the area libraries
# and a package config, so another CMake project can use find_package(voxir) and link
# voxir::voxir (tests/install/ builds such a consumer against an installed tree).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(voxir_install_targets voxir_lib voxir_nifti)
foreach(area IN LISTS VOXIR_AREAS)
  list(APPEND voxir_install_targets voxir_${area})
endforeach()
install(TARGETS ${voxir_install_targets} EXPORT voxirTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS voxir RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/voxir DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(voxir_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/voxir)
install(EXPORT voxirTargets NAMESPACE voxir:: DESTINATION ${voxir_cmake_dir})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/voxirConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/voxirConfig.cmake
                              INSTALL_DESTINATION ${voxir_cmake_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/voxirConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/voxirConfig.cmake ${PROJECT_BINARY_DIR}/voxirConfigVersion.cmake
        DESTINATION ${voxir_cmake_dir})
