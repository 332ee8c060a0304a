# Installs the build in BUILD to a fresh prefix under WORK, builds tests/install/consumer against
# it with find_package(voxir) and runs it. Fails on any step.
file(REMOVE_RECURSE ${WORK})
foreach(step
    "${CMAKE_COMMAND};--install;${BUILD};--prefix;${WORK}/prefix"
    "${CMAKE_COMMAND};-S;${SOURCE}/consumer;-B;${WORK}/build;-G;Ninja;-DCMAKE_BUILD_TYPE=Release;-DCMAKE_PREFIX_PATH=${WORK}/prefix"
    "${CMAKE_COMMAND};--build;${WORK}/build"
    "${WORK}/build/consumer;${WORK}/index")
  execute_process(COMMAND ${step} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message("${out}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "step failed (${rc}): ${step}\n${err}")
  endif()
endforeach()
# The installed tree holds the public headers only: no private header, no build path.
file(GLOB_RECURSE installed_headers RELATIVE ${WORK}/prefix/include ${WORK}/prefix/include/*)
foreach(h IN LISTS installed_headers)
  if(NOT h MATCHES "^voxir/[a-z_]+\\.h$")
    message(FATAL_ERROR "unexpected installed header ${h}")
  endif()
endforeach()
