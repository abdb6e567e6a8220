# localbench_warnings: an interface target every first-party target links, so
# our code builds warning-free without imposing flags on generated code.
add_library(localbench_warnings INTERFACE)
target_compile_options(localbench_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
    -Wold-style-cast -Wcast-align -Wnull-dereference -Wimplicit-fallthrough>
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${LOCALBENCH_WERROR}>>:-Werror>)
