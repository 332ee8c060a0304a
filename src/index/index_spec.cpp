#include "voxir/error.h"
#include "voxir/index.h"

#include <charconv>
#include <optional>
#include <string>
#include <vector>

namespace voxir {
namespace {

constexpr const char* kGrammar =
    "expected \"Flat\", \"HNSW<M>[,efc<N>][,ef<N>]\" or "
    "\"IVF<lists>,PQ<m>[,nprobe<N>][,refine<N>]\"";

std::vector<std::string_view> split_tokens(std::string_view s) {
  std::vector<std::string_view> out;
  while (true) {
    const auto comma = s.find(',');
    auto token = s.substr(0, comma);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
    out.push_back(token);
    if (comma == std::string_view::npos) return out;
    s.remove_prefix(comma + 1);
  }
}

// Reads the positive integer after `prefix` in `token`; nullopt when the token has another prefix.
std::optional<int> number_after(std::string_view token, std::string_view prefix,
                                std::string_view spec) {
  if (token.substr(0, prefix.size()) != prefix) return std::nullopt;
  const auto digits = token.substr(prefix.size());
  int value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || value <= 0) {
    fail(ErrorKind::kUsage, "index spec \"{}\": \"{}\" needs a positive number after \"{}\"", spec,
         token, prefix);
  }
  return value;
}

}  // namespace

IndexSpec IndexSpec::parse(std::string_view spec) {
  const auto tokens = split_tokens(spec);
  IndexSpec out;
  std::size_t next = 1;
  if (tokens[0] == "Flat") {
    out.type = Type::kFlat;
  } else if (auto m = number_after(tokens[0], "HNSW", spec)) {
    out.type = Type::kHnsw;
    out.hnsw_m = *m;
    for (; next < tokens.size(); ++next) {
      if (auto v = number_after(tokens[next], "efc", spec)) {
        out.ef_construction = *v;
      } else if (auto e = number_after(tokens[next], "ef", spec)) {
        out.ef_search = *e;
      } else {
        break;
      }
    }
  } else if (auto lists = number_after(tokens[0], "IVF", spec)) {
    out.type = Type::kIvfPq;
    out.ivf_lists = *lists;
    if (tokens.size() < 2 || !number_after(tokens[1], "PQ", spec)) {
      fail(ErrorKind::kUsage, "index spec \"{}\": IVF needs a PQ<m> part; {}", spec, kGrammar);
    }
    out.pq_m = *number_after(tokens[1], "PQ", spec);
    for (next = 2; next < tokens.size(); ++next) {
      if (auto p = number_after(tokens[next], "nprobe", spec)) {
        out.nprobe = *p;
      } else if (auto r = number_after(tokens[next], "refine", spec)) {
        out.refine = *r;
      } else {
        break;
      }
    }
  } else {
    fail(ErrorKind::kUsage, "index spec \"{}\": unknown index type \"{}\"; {}", spec, tokens[0],
         kGrammar);
  }
  if (next < tokens.size()) {
    fail(ErrorKind::kUsage, "index spec \"{}\": unexpected \"{}\"; {}", spec, tokens[next],
         kGrammar);
  }
  return out;
}

std::string IndexSpec::str() const {
  switch (type) {
    case Type::kFlat:
      return "Flat";
    case Type::kHnsw:
      return fmt::format("HNSW{},efc{},ef{}", hnsw_m, ef_construction, ef_search);
    case Type::kIvfPq:
      return fmt::format("IVF{},PQ{},nprobe{},refine{}", ivf_lists, pq_m, nprobe, refine);
  }
  return "?";
}

void IndexSpec::validate(int dim) const {
  if (dim <= 0)
    fail(ErrorKind::kUsage, "index spec {}: vector dimension {} must be positive", str(), dim);
  if (type == Type::kHnsw && hnsw_m < 2) {
    fail(ErrorKind::kUsage, "index spec {}: HNSW needs M >= 2", str());
  }
  if (type == Type::kIvfPq) {
    if (dim % pq_m != 0) {
      fail(ErrorKind::kUsage,
           "index spec {}: dimension {} is not divisible by PQ{} (try a divisor of {})", str(), dim,
           pq_m, dim);
    }
    if (nprobe > ivf_lists) {
      fail(ErrorKind::kUsage, "index spec {}: nprobe {} exceeds the {} lists", str(), nprobe,
           ivf_lists);
    }
  }
}

}  // namespace voxir
