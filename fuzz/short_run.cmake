# A short fuzzing pass (a ctest case of the fuzz build): replays CORPUS, then fuzzes for
# SECONDS, writing new inputs to WORK (never into the corpus in the repository).
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/new ${WORK}/crashes)
set(options -max_total_time=${SECONDS} -timeout=20 -rss_limit_mb=4096 -max_len=16384
            -artifact_prefix=${WORK}/crashes/)
if(EXISTS ${DICT})
  list(APPEND options -dict=${DICT})
endif()
execute_process(COMMAND ${FUZZER} ${options} ${WORK}/new ${CORPUS} RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${FUZZER} failed (${status}); the input is in ${WORK}/crashes")
endif()
