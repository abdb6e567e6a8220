// The site's static files (collector/src/http/static_files.cc): plain files
// under the root only, index.html for folders, content types by extension.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "localbench/collector/http/static_files.h"

namespace localbench::collector::http {
namespace {

namespace fs = std::filesystem;

class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/lbstatic-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    root_ = base_ / "www";
    fs::create_directories(root_ / "vendor");
    Write(root_ / "index.html", "<p>index</p>");
    Write(root_ / "vendor" / "vega.min.js", "var vega;");
    Write(base_ / "secret.txt", "not served");
    fs::create_symlink(base_ / "secret.txt", root_ / "escape.txt");
  }
  void TearDown() override { fs::remove_all(base_); }
  static void Write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

  fs::path base_;
  fs::path root_;
};

TEST_F(StaticFilesTest, ServesFilesAndIndex) {
  auto js = ReadStaticFile(root_.string(), "vendor/vega.min.js");
  ASSERT_TRUE(js.ok()) << js.status();
  EXPECT_EQ(js->body, "var vega;");
  EXPECT_EQ(js->content_type, "text/javascript; charset=utf-8");
  auto index = ReadStaticFile(root_.string(), "");
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ(index->body, "<p>index</p>");
  EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
}

TEST_F(StaticFilesTest, RefusesPathsOutsideTheRoot) {
  for (const char* bad : {"../secret.txt", "vendor/../../secret.txt", ".hidden", "a//b", "vendor/./vega.min.js"}) {
    EXPECT_EQ(ReadStaticFile(root_.string(), bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(ReadStaticFile(root_.string(), "escape.txt").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ReadStaticFile(root_.string(), "missing.html").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ReadStaticFile(root_.string(), "vendor").status().code(), absl::StatusCode::kNotFound);  // a folder
}

}  // namespace
}  // namespace localbench::collector::http
