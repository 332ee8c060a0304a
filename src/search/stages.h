// The staged searcher behind search(index, Query) (voxir/search.h): candidates -> aggregate ->
// rerank -> localize on query vectors that the Query has already been resolved to.
#pragma once

#include "voxir/search.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>

// (In namespace voxir: a namespace voxir::search would clash with the function voxir::search.)
namespace voxir {

// Searches `index` with precomputed query vectors of slices first_slice .. first_slice + n - 1.
// `query_content` holds those slices' body areas in mm² (Embedder::embed_measured); empty: every
// query slice counts as having content. Throws Error(kInvalidInput) "slices a..b contain no
// body" when no query slice has content. Thread-safe for concurrent calls on the same index.
[[nodiscard]] SearchAnswer run_stages(const Index& index, std::span<const float> query,
                                      std::int64_t n, std::int64_t first_slice,
                                      const SearchParams& params,
                                      std::span<const float> query_content = {});

// Slices embedded, or query vectors searched, between two checks of SearchParams::deadline.
inline constexpr std::int64_t kDeadlineBlock = 64;

// Throws Error(kTimeout) "the search passed its time limit while <doing>" (doing formatted from
// the arguments, only then) once params.deadline has passed.
[[noreturn]] void fail_past_deadline(const SearchParams& params, std::string_view doing);
template <typename... Args>
void check_deadline(const SearchParams& params, fmt::format_string<Args...> doing, Args&&... args) {
  if (std::chrono::steady_clock::now() < params.deadline) return;
  fail_past_deadline(params, fmt::format(doing, std::forward<Args>(args)...));
}

}  // namespace voxir
