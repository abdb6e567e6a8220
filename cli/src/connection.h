// Where the CLI connects and with which token: flags, then the environment
// (LOCALBENCH_COLLECTOR, LOCALBENCH_TOKEN), then the config file
// (~/.config/localbench/cli.conf, refused unless only its owner can read it).
#ifndef LOCALBENCH_CLI_CONNECTION_H_
#define LOCALBENCH_CLI_CONNECTION_H_

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"

namespace localbench::cli {

// The connection settings, as given or resolved.
struct Settings {
  std::string collector;  // host:port
  std::string token;      // bearer token ("" none: public reads only)
  std::string ca_cert;    // PEM of the CA that signed the collector's certificate ("" system roots)
  bool insecure = false;  // plaintext gRPC (a collector on loopback, tests)
  std::string config_path;  // the config file read ("" none)
};

// The default config file: $XDG_CONFIG_HOME/localbench/cli.conf, else
// ~/.config/localbench/cli.conf.
std::string DefaultConfigPath();

// Fills what `flags` leave empty from the environment and then from the
// config file `config_path` (`key = value` lines: collector, token, ca_cert,
// insecure; `#` comments). A missing file is fine unless `explicit_config`.
// INVALID_ARGUMENT naming the problem: a config file readable by group or
// others (it holds a token), an unknown key, no collector at all, or
// --insecure with --ca-cert.
absl::StatusOr<Settings> Resolve(Settings flags, const std::string& config_path, bool explicit_config);

// A channel per `s`: TLS with the system roots or `s.ca_cert` by default,
// plaintext only with `s.insecure`.
absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenChannel(const Settings& s);

}  // namespace localbench::cli

#endif  // LOCALBENCH_CLI_CONNECTION_H_
