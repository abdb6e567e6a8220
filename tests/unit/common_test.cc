#include <set>
#include <string>

#include <gtest/gtest.h>

#include "localbench/common/crypto.h"

namespace localbench {
namespace {

TEST(Sha256Hex, MatchesKnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(RandomHex, HasRequestedLengthAndDiffers) {
  const std::string a = RandomHex(32);
  const std::string b = RandomHex(32);
  EXPECT_EQ(a.size(), 64u);
  EXPECT_NE(a, b);
}

TEST(NewUuid, IsCanonicalVersion4AndUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = NewUuid();
    ASSERT_TRUE(IsUuid(id)) << id;
    EXPECT_EQ(id[14], '4') << id;
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(IsUuid, RejectsMalformed) {
  EXPECT_FALSE(IsUuid(""));
  EXPECT_FALSE(IsUuid("not-a-uuid"));
  EXPECT_FALSE(IsUuid("123e4567-e89b-12d3-a456-42661417400"));    // short
  EXPECT_FALSE(IsUuid("123e4567-e89b-12d3-a456-4266141740000"));  // long
  EXPECT_FALSE(IsUuid("123e4567xe89b-12d3-a456-426614174000"));   // bad dash
  EXPECT_FALSE(IsUuid("123e4567-e89b-12d3-a456-42661417400g"));   // bad digit
  EXPECT_TRUE(IsUuid("123E4567-E89B-12D3-A456-426614174000"));
}

}  // namespace
}  // namespace localbench
