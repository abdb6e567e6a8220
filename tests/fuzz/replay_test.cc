// Replays a fuzz target's committed inputs in the normal (GCC) build: every
// seed in tests/fuzz/corpus/<target>/ and every input that once crashed it in
// tests/fuzz/regressions/<target>/. The target's own contract checks
// (std::abort on a broken one) make a regression fail here, without clang.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

std::vector<std::filesystem::path> Inputs(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  if (!std::filesystem::is_directory(dir)) return files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  return files;
}

void ReplayAll(const std::filesystem::path& dir) {
  for (const auto& file : Inputs(dir)) {
    SCOPED_TRACE(file.string());
    std::ifstream in(file, std::ios::binary);
    std::ostringstream buffer;
    buffer << in.rdbuf();
    const std::string bytes = buffer.str();
    EXPECT_EQ(LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()), 0);
  }
}

TEST(FuzzReplay, SeedCorpus) {
  const std::filesystem::path dir = std::filesystem::path(LOCALBENCH_FUZZ_DIR) / "corpus" / LOCALBENCH_FUZZ_TARGET;
  ASSERT_FALSE(Inputs(dir).empty()) << "no committed seeds in " << dir;
  ReplayAll(dir);
}

TEST(FuzzReplay, CrashRegressions) {
  ReplayAll(std::filesystem::path(LOCALBENCH_FUZZ_DIR) / "regressions" / LOCALBENCH_FUZZ_TARGET);
}

}  // namespace
