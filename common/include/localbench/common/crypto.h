// Hashing and randomness shared by the agent and the collector.
#ifndef LOCALBENCH_COMMON_CRYPTO_H_
#define LOCALBENCH_COMMON_CRYPTO_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace localbench {

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

// `n` bytes from the operating system's CSPRNG, as lower-case hex (2n chars).
// Crashes if the CSPRNG fails: nothing secret may be made from a weak source.
std::string RandomHex(std::size_t n);

// A random (version 4) UUID in its canonical 36-character text form.
std::string NewUuid();

// True when `s` is a UUID in canonical text form (any version, any case).
bool IsUuid(std::string_view s);

}  // namespace localbench

#endif  // LOCALBENCH_COMMON_CRYPTO_H_
