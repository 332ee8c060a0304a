# voxir_embed_files(<out.cpp> <namespace> <name>=<file> ...): compiles data files into the
# library as std::string_view constants, so the binary needs no data folder at run time.
function(voxir_embed_files out ns)
  set(script "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/embed_files.cmake")
  set(pairs)
  set(deps)
  foreach(arg IN LISTS ARGN)
    string(REPLACE "=" ";" kv "${arg}")
    list(GET kv 1 file)
    list(APPEND pairs "${arg}")
    list(APPEND deps "${file}")
  endforeach()
  string(REPLACE ";" "|" pairs_arg "${pairs}")
  add_custom_command(
    OUTPUT "${out}"
    COMMAND ${CMAKE_COMMAND} "-DOUT=${out}" "-DNS=${ns}" "-DPAIRS=${pairs_arg}" -P "${script}"
    DEPENDS ${deps} "${script}"
    COMMENT "Embedding data files into ${out}"
    VERBATIM)
endfunction()
