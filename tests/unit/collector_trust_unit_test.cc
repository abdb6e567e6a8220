// Trust's pure parts: the token bucket with an injected clock, the outlier
// rule, the roofline bound's arithmetic and the peer address key.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "localbench/collector/ingest.h"
#include "localbench/collector/plausibility.h"
#include "localbench/collector/rate_limiter.h"
#include "localbench/test_support/submission_builder.h"

namespace localbench::collector {
namespace {

using std::chrono::milliseconds;

class FakeClock {
 public:
  RateLimiter::Clock AsClock() {
    return [this] { return now_; };
  }
  void Advance(milliseconds d) { now_ += d; }

 private:
  std::chrono::steady_clock::time_point now_{std::chrono::seconds(1000)};
};

TEST(RateLimiterTest, BurstThenRateWithRetryHint) {
  FakeClock clock;
  RateLimiter limiter(RateRule{2, 3}, clock.AsClock());  // 2/s, burst 3
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.Take("a"), milliseconds(0)) << i;
  EXPECT_EQ(limiter.Take("a"), milliseconds(500));  // one token every 500 ms
  clock.Advance(milliseconds(200));
  EXPECT_EQ(limiter.Take("a"), milliseconds(300));  // nothing taken by a refusal
  clock.Advance(milliseconds(300));
  EXPECT_EQ(limiter.Take("a"), milliseconds(0));
  EXPECT_EQ(limiter.Take("a"), milliseconds(500));
  // Keys are independent.
  EXPECT_EQ(limiter.Take("b"), milliseconds(0));
  // A long pause refills to the burst, not beyond.
  clock.Advance(std::chrono::hours(1));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.Take("a"), milliseconds(0)) << i;
  EXPECT_GT(limiter.Take("a"), milliseconds(0));
}

TEST(RateLimiterTest, ZeroRateIsOff) {
  RateLimiter limiter(RateRule{0, 1});
  EXPECT_FALSE(limiter.enabled());
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(limiter.Take("a"), milliseconds(0));
}

TEST(RateLimiterTest, ManyKeysStayBounded) {
  FakeClock clock;
  RateLimiter limiter(RateRule{1, 1}, clock.AsClock(), 4);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(limiter.Take(std::to_string(i)), milliseconds(0));
  // The map was pruned (no growth without bound); a key still limited
  // recently may be forgotten, which only ever errs towards allowing.
  EXPECT_EQ(limiter.Take("99"), milliseconds(1000));
}

TEST(PeerAddressTest, DropsSchemeAndPort) {
  EXPECT_EQ(PeerAddress("ipv4:10.0.0.7:5123"), "10.0.0.7");
  EXPECT_EQ(PeerAddress("ipv6:[::1]:5123"), "[::1]");
  EXPECT_EQ(PeerAddress("unix:/tmp/sock"), "/tmp/sock");
}

PlausibilityRules Rules() { return PlausibilityRules{}; }

TEST(OutlierRuleTest, NeedsFivePeers) {
  EXPECT_FALSE(CheckOutlier("x", 1000, {100, 101, 99, 100}, Rules()).has_value());
  EXPECT_TRUE(CheckOutlier("x", 1000, {100, 101, 99, 100, 102}, Rules()).has_value());
}

TEST(OutlierRuleTest, BandIsMadScaledWithARelativeFloor) {
  // Tight peers (MAD 1): the 25% floor decides.
  const std::vector<double> tight = {100, 101, 99, 100, 102, 98};
  EXPECT_FALSE(CheckOutlier("x", 124, tight, Rules()).has_value());
  EXPECT_TRUE(CheckOutlier("x", 126, tight, Rules()).has_value());
  EXPECT_TRUE(CheckOutlier("x", 74, tight, Rules()).has_value());
  // Spread peers (median 100, MAD 20): 3.5 x 1.4826 x 20 = 103.8 decides.
  const std::vector<double> spread = {60, 80, 100, 120, 140, 100, 100};
  const auto f = CheckOutlier("sweeps[0].points[1].tokens_per_second_median", 205, spread, Rules());
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->reason, "outlier");
  EXPECT_EQ(f->field, "sweeps[0].points[1].tokens_per_second_median");
  EXPECT_FALSE(CheckOutlier("x", 203, spread, Rules()).has_value());
}

TEST(PlausibilityTest, DisabledRulesFindNothing) {
  v1::Submission s = test_support::MakeSubmission(1, 4, 4);
  s.mutable_sweeps(0)->mutable_points(0)->set_sm_clock_mhz(9000);
  PlausibilityRules off;
  off.enabled = false;
  EXPECT_TRUE(CheckPlausibility(s, std::nullopt, 0, off).empty());
  EXPECT_FALSE(CheckPlausibility(s, std::nullopt, 0, Rules()).empty());
}

TEST(PlausibilityTest, RooflineNeedsTheCatalogue) {
  v1::Submission s = test_support::MakeSubmission(1, 1, 4);
  v1::Point* p = s.mutable_sweeps(0)->mutable_points(0);
  p->set_tokens_per_second_median(p->tokens_per_second_median() * 1000);
  p->set_tokens_per_second_min(p->tokens_per_second_min() * 1000);
  p->set_tokens_per_second_max(p->tokens_per_second_max() * 1000);
  p->set_step_seconds_median(p->step_seconds_median() / 1000);
  p->set_step_seconds_min(p->step_seconds_min() / 1000);
  p->set_step_seconds_max(p->step_seconds_max() / 1000);
  p->set_step_seconds_mean(p->step_seconds_mean() / 1000);
  // Uncatalogued: no figures, no bound, no finding.
  EXPECT_TRUE(CheckPlausibility(s, std::nullopt, 0, Rules()).empty());
  // A 4090 (1008 GB/s): llama-3.2-1b fp16 decode reads ~2.5 GB of weights
  // per step, so batch 1 cannot pass ~410 tokens/s; 183k is 300x beyond.
  CatalogueFigures rtx4090{"rtx-4090-24gb", 25769803776ULL, 1008e9, 165.2, 82.6};
  const std::vector<Finding> f = CheckPlausibility(s, rtx4090, 0, Rules());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].reason, "above_roofline");
  EXPECT_EQ(f[0].field, "sweeps[0].points[0].tokens_per_second_median");
  // The builder's own speed is far inside it.
  EXPECT_TRUE(CheckPlausibility(test_support::MakeSubmission(1, 4, 4), rtx4090, 0, Rules()).empty());
}

TEST(PlausibilityTest, SummaryStaysWithinTheModerationLimit) {
  std::vector<Finding> many(500, Finding{"outlier", "sweeps[100].points[200].tokens_per_second_median", "d"});
  const std::string summary = SummarizeFindings(many);
  EXPECT_LE(summary.size(), 1024u);
  EXPECT_NE(summary.find("more"), std::string::npos);
}

}  // namespace
}  // namespace localbench::collector
