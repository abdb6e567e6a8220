// The seeded quantized fill (issue 15): CpuBackend::FillRandomQuantized draws
// and quantizes in small parallel chunks, and must store exactly the bytes
// of quantizing the fp32 tensor FillRandomUniform gives, at any thread count
// (so results stay comparable with runs before the fused fill).
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "localbench/kernels/cpu_backend.h"
#include "localbench/kernels/quant.h"

namespace localbench::kernels {
namespace {

struct Shape {
  std::int64_t rows, cols;
};

TEST(QuantFill, FusedFillStoresTheQuantizedSeededStreamAtAnyThreadCount) {
  // Q8_0/Q4_0: 370 and 2400 blocks (chunks of 128 with a partial last one);
  // NF4: 300 blocks (two scale groups, the second partial) and 640.
  const struct {
    QuantFormat format;
    Shape shapes[2];
  } cases[] = {{QuantFormat::kQ8_0, {{37, 320}, {75, 1024}}},
               {QuantFormat::kQ4_0, {{37, 320}, {75, 1024}}},
               {QuantFormat::kNf4, {{3, 6400}, {40, 1024}}}};
  for (int threads : {1, 3}) {
    CpuDeviceOptions options;
    options.threads = threads;
    CpuBackend backend(options);
    for (const auto& c : cases) {
      for (const Shape& s : c.shapes) {
        SCOPED_TRACE(testing::Message() << QuantFormatName(c.format) << " " << s.rows << "x" << s.cols << ", "
                                        << threads << " threads");
        const std::uint64_t seed = 0x5eed0000u + static_cast<std::uint64_t>(s.rows);
        std::vector<float> values(static_cast<std::size_t>(s.rows * s.cols));
        ASSERT_TRUE(backend.FillRandomUniform(Tensor::Of(values.data(), DType::kF32, {s.rows, s.cols}), seed, 0.02f)
                        .ok());
        std::vector<std::uint8_t> want(QuantizedBytes(c.format, s.rows, s.cols));
        Quantize(c.format, values.data(), s.rows, s.cols, want.data());
        std::vector<std::uint8_t> got(want.size(), 0xa5);
        ASSERT_TRUE(backend.FillRandomQuantized(c.format, got.data(), s.rows, s.cols, seed, 0.02f).ok());
        EXPECT_EQ(got, want);
      }
    }
  }
}

// Quantizing rounds x / d to the nearest level, ties to even (as nearbyint
// does in the default rounding mode), also through the fast rounding that
// replaced the library call.
TEST(QuantFill, LinearFormatsRoundTiesToEven) {
  // Q8_0: amax 127 gives d = 1 exactly.
  std::vector<float> q8(32, 0.0f);
  q8[0] = 127.0f;
  q8[1] = 2.5f;
  q8[2] = -2.5f;
  q8[3] = 3.5f;
  q8[4] = 0.5f;
  q8[5] = -1.5f;
  std::vector<std::uint8_t> block(QuantizedBytes(QuantFormat::kQ8_0, 1, 32));
  Quantize(QuantFormat::kQ8_0, q8.data(), 1, 32, block.data());
  std::vector<float> back(32);
  Dequantize(QuantFormat::kQ8_0, block.data(), 1, 32, back.data());
  EXPECT_EQ(back[0], 127.0f);
  EXPECT_EQ(back[1], 2.0f);
  EXPECT_EQ(back[2], -2.0f);
  EXPECT_EQ(back[3], 4.0f);
  EXPECT_EQ(back[4], 0.0f);
  EXPECT_EQ(back[5], -2.0f);
  // Q4_0: the most negative weight -8 gives d = 1 exactly.
  std::vector<float> q4(32, 0.0f);
  q4[0] = -8.0f;
  q4[1] = 2.5f;
  q4[17] = -0.5f;
  q4[18] = 1.5f;
  q4[31] = -6.5f;
  block.assign(QuantizedBytes(QuantFormat::kQ4_0, 1, 32), 0);
  Quantize(QuantFormat::kQ4_0, q4.data(), 1, 32, block.data());
  Dequantize(QuantFormat::kQ4_0, block.data(), 1, 32, back.data());
  EXPECT_EQ(back[0], -8.0f);
  EXPECT_EQ(back[1], 2.0f);
  EXPECT_EQ(back[17], 0.0f);
  EXPECT_EQ(back[18], 2.0f);
  EXPECT_EQ(back[31], -6.0f);
}

}  // namespace
}  // namespace localbench::kernels
