# Detects the GPU compilers and enables the CUDA and HIP languages.
#
# LOCALBENCH_CUDA / LOCALBENCH_HIP are AUTO (build when the compiler exists),
# ON (fail when it does not) or OFF. Results: LOCALBENCH_HAVE_CUDA and
# LOCALBENCH_HAVE_HIP, and one configure message per backend saying why.

# --- CUDA -----------------------------------------------------------------
set(LOCALBENCH_HAVE_CUDA OFF)
if(NOT LOCALBENCH_CUDA STREQUAL "OFF")
  find_program(LOCALBENCH_NVCC nvcc HINTS /usr/local/cuda/bin ENV CUDA_PATH PATH_SUFFIXES bin)
  if(LOCALBENCH_NVCC)
    if(NOT DEFINED CMAKE_CUDA_COMPILER)
      set(CMAKE_CUDA_COMPILER "${LOCALBENCH_NVCC}")
    endif()
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      # Named, never "native": there is no GPU on build machines.
      set(CMAKE_CUDA_ARCHITECTURES 80 86 89 90)
    endif()
    # CMake 3.25 does not know nvcc's C++20 flag; teach it.
    set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
    set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
    enable_language(CUDA)
    list(APPEND CMAKE_CUDA_COMPILE_FEATURES cuda_std_20)
    find_package(CUDAToolkit REQUIRED)
    set(LOCALBENCH_HAVE_CUDA ON)
    message(STATUS "localbench: CUDA backend ON (${LOCALBENCH_NVCC}, archs ${CMAKE_CUDA_ARCHITECTURES})")
  elseif(LOCALBENCH_CUDA STREQUAL "ON")
    message(FATAL_ERROR "localbench: LOCALBENCH_CUDA=ON but nvcc was not found (set CUDA_PATH or CMAKE_CUDA_COMPILER)")
  else()
    message(STATUS "localbench: CUDA backend skipped: nvcc not found (LOCALBENCH_CUDA=ON forces it)")
  endif()
else()
  message(STATUS "localbench: CUDA backend OFF by LOCALBENCH_CUDA=OFF")
endif()

# --- HIP (Debian's clang-15 based HIP 5.2) ---------------------------------
set(LOCALBENCH_HAVE_HIP OFF)
if(NOT LOCALBENCH_HIP STREQUAL "OFF")
  find_program(LOCALBENCH_HIP_CLANG clang++-15)
  set(_hip_lang_dir /usr/lib/x86_64-linux-gnu/cmake/hip-lang)
  if(LOCALBENCH_HIP_CLANG AND EXISTS "${_hip_lang_dir}/hip-lang-config.cmake")
    # Debian installs HIP under /usr, which CMake's HIP support does not
    # expect: give it a ROCm root in the build tree that points back there.
    set(_rocm_root "${CMAKE_BINARY_DIR}/rocm-root")
    file(MAKE_DIRECTORY "${_rocm_root}/lib/cmake")
    file(CREATE_LINK "${_hip_lang_dir}" "${_rocm_root}/lib/cmake/hip-lang" SYMBOLIC)
    set(CMAKE_HIP_COMPILER "${LOCALBENCH_HIP_CLANG}")
    set(CMAKE_HIP_COMPILER_ROCM_ROOT "${_rocm_root}")
    set(CMAKE_HIP_FLAGS_INIT
      "--rocm-path=/usr --rocm-device-lib-path=/usr/lib/x86_64-linux-gnu/amdgcn/bitcode")
    # The compiler checks run in a scratch project: pass the prefix through
    # the environment so hip-lang finds its dependencies (amd_comgr, hip) there too.
    list(APPEND CMAKE_PREFIX_PATH /usr/lib/x86_64-linux-gnu/cmake)
    set(ENV{CMAKE_PREFIX_PATH} "/usr/lib/x86_64-linux-gnu/cmake:$ENV{CMAKE_PREFIX_PATH}")
    if(NOT DEFINED CMAKE_HIP_ARCHITECTURES)
      set(CMAKE_HIP_ARCHITECTURES gfx90a gfx1030)
    endif()
    enable_language(HIP)
    set(LOCALBENCH_HAVE_HIP ON)
    message(STATUS "localbench: HIP backend ON (${LOCALBENCH_HIP_CLANG}, archs ${CMAKE_HIP_ARCHITECTURES})")
  elseif(LOCALBENCH_HIP STREQUAL "ON")
    message(FATAL_ERROR "localbench: LOCALBENCH_HIP=ON but Debian's HIP compiler (clang++-15 + hip-lang) was not found; run scripts/bootstrap.sh")
  else()
    message(STATUS "localbench: HIP backend skipped: clang++-15 / hip-lang not found (LOCALBENCH_HIP=ON forces it)")
  endif()
else()
  message(STATUS "localbench: HIP backend OFF by LOCALBENCH_HIP=OFF")
endif()
