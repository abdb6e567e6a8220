#include "connection.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"

namespace localbench::cli {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

}  // namespace

std::string DefaultConfigPath() {
  if (std::string xdg = Env("XDG_CONFIG_HOME"); !xdg.empty()) return xdg + "/localbench/cli.conf";
  return Env("HOME") + "/.config/localbench/cli.conf";
}

absl::StatusOr<Settings> Resolve(Settings s, const std::string& config_path, bool explicit_config) {
  if (s.collector.empty()) s.collector = Env("LOCALBENCH_COLLECTOR");
  if (s.token.empty()) s.token = Env("LOCALBENCH_TOKEN");
  struct stat st {};
  if (stat(config_path.c_str(), &st) == 0) {
    // The file may hold a token: only its owner may read it (as ssh does).
    if ((st.st_mode & 077) != 0) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: mode %04o lets others read the token in it; run `chmod 600 %s`", config_path, st.st_mode & 0777,
          config_path));
    }
    std::ifstream in(config_path);
    if (!in) return absl::InvalidArgumentError(absl::StrCat(config_path, ": cannot read it"));
    s.config_path = config_path;
    std::string line;
    int number = 0;
    bool file_insecure = false;
    std::string file_collector, file_token, file_ca;
    while (std::getline(in, line)) {
      ++number;
      absl::string_view text = absl::StripAsciiWhitespace(line);
      if (text.empty() || text.front() == '#') continue;
      const auto eq = text.find('=');
      if (eq == absl::string_view::npos) {
        return absl::InvalidArgumentError(absl::StrCat(config_path, ":", number, ": expected `key = value`"));
      }
      const std::string key(absl::StripAsciiWhitespace(text.substr(0, eq)));
      const std::string value(absl::StripAsciiWhitespace(text.substr(eq + 1)));
      if (key == "collector") file_collector = value;
      else if (key == "token") file_token = value;
      else if (key == "ca_cert") file_ca = value;
      else if (key == "insecure") file_insecure = value == "true";
      else {
        return absl::InvalidArgumentError(absl::StrCat(
            config_path, ":", number, ": unknown key '", key, "' (known: collector, token, ca_cert, insecure)"));
      }
    }
    if (s.collector.empty()) s.collector = file_collector;
    if (s.token.empty()) s.token = file_token;
    // Transport settings come together with the collector they belong to.
    if (!s.insecure && s.ca_cert.empty()) {
      s.insecure = file_insecure;
      s.ca_cert = file_ca;
    }
  } else if (explicit_config) {
    return absl::InvalidArgumentError(absl::StrCat("--config ", config_path, ": no such file"));
  }
  if (s.collector.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "no collector: give --collector HOST:PORT, set LOCALBENCH_COLLECTOR, or put `collector = HOST:PORT` in ",
        config_path));
  }
  if (s.insecure && !s.ca_cert.empty()) {
    return absl::InvalidArgumentError("--insecure and --ca-cert contradict each other: choose one");
  }
  return s;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenChannel(const Settings& s) {
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (s.insecure) {
    creds = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    if (!s.ca_cert.empty()) {
      std::ifstream in(s.ca_cert, std::ios::binary);
      std::stringstream pem;
      pem << in.rdbuf();
      if (!in || pem.str().find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat("--ca-cert ", s.ca_cert, ": not a readable PEM certificate"));
      }
      ssl.pem_root_certs = pem.str();
    }
    creds = grpc::SslCredentials(ssl);
  }
  return grpc::CreateChannel(s.collector, creds);
}

}  // namespace localbench::cli
