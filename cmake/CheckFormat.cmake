# Fails if any C++ file under src/, tools/, tests/, bench/, fuzz/ or python/ differs from clang-format's output.
file(GLOB_RECURSE files ${ROOT}/src/*.cpp ${ROOT}/src/*.hpp ${ROOT}/src/*.inc ${ROOT}/tools/*.cpp
     ${ROOT}/tools/*.hpp ${ROOT}/tests/*.cpp ${ROOT}/tests/*.hpp ${ROOT}/bench/*.cpp ${ROOT}/bench/*.hpp
     ${ROOT}/fuzz/*.cpp ${ROOT}/fuzz/*.hpp ${ROOT}/python/*.cpp ${ROOT}/python/*.hpp)
set(bad "")
foreach(f ${files})
  execute_process(COMMAND ${CLANG_FORMAT} --dry-run -Werror ${f} RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
  if(NOT rc EQUAL 0)
    list(APPEND bad ${f})
  endif()
endforeach()
if(bad)
  string(REPLACE ";" "\n  " bad "${bad}")
  message(FATAL_ERROR "not formatted (run scripts/format.sh):\n  ${bad}")
endif()
