# Writes OUTPUT, a C++ file holding INPUT (the built-in presets YAML) as a raw string literal.
# Run by the build (cmake -P) whenever INPUT or this script changes.
file(READ "${INPUT}" content)
set(delimiter "hookd_presets")
string(FIND "${content}" ")${delimiter}\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains the raw string delimiter )${delimiter}\"")
endif()
set(generated "// Generated from src/config/presets.yaml by src/config/embed_presets.cmake. Do not edit.
#include \"schema.hpp\"

namespace hookd::config::detail {
const char* const embedded_presets = R\"${delimiter}(${content})${delimiter}\";
}  // namespace hookd::config::detail
")
# Only touch the file when it changes, so dependants are not rebuilt for nothing.
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" previous)
  if(previous STREQUAL generated)
    return()
  endif()
endif()
file(WRITE "${OUTPUT}" "${generated}")
