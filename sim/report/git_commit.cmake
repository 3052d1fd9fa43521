# Writes OUT with E2SIM_GIT_COMMIT, the commit of the SOURCE checkout ("-dirty" when tracked
# files differ from it), or "unknown" outside a git checkout (a release tarball, or one unpacked
# inside some other repository). Run by the build each time (sim/CMakeLists.txt); OUT is
# rewritten only when the text changes, so an unchanged commit recompiles nothing.
set(commit unknown)
execute_process(COMMAND git -C "${SOURCE}" rev-parse --show-toplevel --short=12 HEAD
  OUTPUT_VARIABLE lines RESULT_VARIABLE rc ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
if(rc EQUAL 0)
  string(REPLACE "\n" ";" lines "${lines}")
  list(GET lines 0 top)
  list(GET lines 1 head)
  file(REAL_PATH "${top}" top)
  file(REAL_PATH "${SOURCE}" source)
  if(top STREQUAL source)
    set(commit "${head}")
    execute_process(COMMAND git -C "${SOURCE}" status --porcelain --untracked-files=no
      OUTPUT_VARIABLE changes RESULT_VARIABLE rc ERROR_QUIET)
    if(NOT rc EQUAL 0 OR NOT changes STREQUAL "")
      set(commit "${commit}-dirty")
    endif()
  endif()
endif()
set(text "#define E2SIM_GIT_COMMIT \"${commit}\"\n")
set(old "")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
