#include "voxir/error.h"
#include "voxir/index.h"

#include <fmt/ranges.h>

#include <charconv>
#include <optional>
#include <string>
#include <vector>

namespace voxir {
namespace {

constexpr const char* kGrammar =
    "expected \"faiss:Flat\", \"hnswlib:M<links>[,efc<N>]\" or \"faiss:IVF<lists>,PQ<m>\"";

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

IndexSpec IndexSpec::parse(std::string_view spec, std::vector<std::string>* notes) {
  // "library:rest"; without a library, a round-1 name ("Flat", "HNSW32,...", "IVF...").
  std::string_view library;
  std::string_view rest = spec;
  if (const auto colon = spec.find(':'); colon != std::string_view::npos) {
    library = spec.substr(0, colon);
    rest = spec.substr(colon + 1);
    if (library != "faiss" && library != "hnswlib") {
      fail(ErrorKind::kUsage, "index spec \"{}\": unknown library \"{}\"; {}", spec, library,
           kGrammar);
    }
  }
  const auto tokens = split_tokens(rest);
  const bool legacy = library.empty();
  IndexSpec out;
  std::size_t next = 1;
  std::vector<std::string> dropped;  // round-1 query knobs
  if (tokens[0] == "Flat" && library != "hnswlib") {
    out.type = Type::kFlat;
  } else if (auto m = number_after(tokens[0], legacy ? "HNSW" : "M", spec);
             m && library != "faiss") {
    out.type = Type::kHnsw;
    out.hnsw_m = *m;
    for (; next < tokens.size(); ++next) {
      if (auto v = number_after(tokens[next], "efc", spec)) {
        out.ef_construction = *v;
      } else if (legacy && number_after(tokens[next], "ef", spec)) {
        dropped.emplace_back(tokens[next]);
      } else {
        break;
      }
    }
  } else if (auto lists = number_after(tokens[0], "IVF", spec); lists && library != "hnswlib") {
    out.type = Type::kIvfPq;
    out.ivf_lists = *lists;
    if (tokens.size() < 2 || !number_after(tokens[1], "PQ", spec)) {
      fail(ErrorKind::kUsage, "index spec \"{}\": IVF needs a PQ<m> part; {}", spec, kGrammar);
    }
    out.pq_m = *number_after(tokens[1], "PQ", spec);
    for (next = 2; next < tokens.size(); ++next) {
      if (legacy && (number_after(tokens[next], "nprobe", spec) ||
                     number_after(tokens[next], "refine", spec))) {
        dropped.emplace_back(tokens[next]);
      } else {
        break;
      }
    }
  } else {
    fail(ErrorKind::kUsage, "index spec \"{}\": unknown index type \"{}\"{}; {}", spec, tokens[0],
         library.empty() ? "" : fmt::format(" for {}", library), kGrammar);
  }
  if (next < tokens.size()) {
    const bool knob = number_after(tokens[next], "ef", spec) || number_after(tokens[next], "nprobe", spec) ||
                      number_after(tokens[next], "refine", spec);
    fail(ErrorKind::kUsage, "index spec \"{}\": unexpected \"{}\"{}; {}", spec, tokens[next],
         knob ? " (a query-time knob: give it with each query, AnnParams)" : "", kGrammar);
  }
  if (notes != nullptr && legacy) {
    notes->push_back(fmt::format("index spec \"{}\" is a round-1 name; it now reads \"{}\"{}", spec,
                                 out.str(),
                                 dropped.empty() ? std::string()
                                                 : fmt::format(" ({} ignored: query-time knobs travel with "
                                                               "each query)",
                                                               fmt::join(dropped, ", "))));
  }
  return out;
}

std::string IndexSpec::str() const {
  switch (type) {
    case Type::kFlat:
      return "faiss:Flat";
    case Type::kHnsw:
      return fmt::format("hnswlib:M{},efc{}", hnsw_m, ef_construction);
    case Type::kIvfPq:
      return fmt::format("faiss:IVF{},PQ{}", ivf_lists, pq_m);
  }
  return "?";
}

void AnnParams::validate() const {
  if (ef_search < 1 || nprobe < 1 || refine < 1) {
    fail(ErrorKind::kUsage,
         "search knobs ef {}, nprobe {}, refine {}: each must be at least 1", ef_search, nprobe,
         refine);
  }
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
  }
}

}  // namespace voxir
