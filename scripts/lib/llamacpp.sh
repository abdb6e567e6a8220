# Sourced by scripts/bench-llamacpp*.sh: the llama.cpp baseline's install.
# llamacpp_install DIR installs node-llama-cpp 3.21.1 and its prebuilt
# linux-x64 CPU binaries into DIR (install scripts not run, other platforms'
# optional packages left out, nothing downloaded or compiled at run time);
# where npm cannot install it, it prints one "skipped" line and returns 1.
llamacpp_install() {
  local dir=$1
  mkdir -p "$dir"
  export NODE_LLAMA_CPP_SKIP_DOWNLOAD=true
  [ -d "$dir/node_modules/@node-llama-cpp/linux-x64" ] && return 0
  if ! (cd "$dir" && npm i -E --ignore-scripts --no-audit --no-fund --omit=optional \
          node-llama-cpp@3.21.1 @node-llama-cpp/linux-x64@3.21.1 >npm.log 2>&1); then
    echo "llama.cpp baseline skipped: npm could not install node-llama-cpp@3.21.1 (see $dir/npm.log)"
    return 1
  fi
}
