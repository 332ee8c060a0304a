// voxir index build|add|remove|predict|info|import: make and maintain an index folder (docs/index-format.md).
#include "command.h"
#include "progress_bar.h"
#include "voxir/embed.h"
#include "voxir/error.h"
#include "voxir/index.h"
#include "voxir/json.h"
#include "voxir/ingest.h"

#include <fmt/core.h>

#include <memory>

namespace voxir::cli {
namespace {

struct IndexArgs {
  std::string dir;
  std::vector<std::string> inputs;
  std::string embedder = kDefaultEmbedderSpec;
  std::string index = kDefaultIndexSpec;
  std::string volume_id;
  std::string id_prefix;
  int threads = 0;
  std::int64_t frame = -1;  // -1: not given
  std::string cache;
  bool no_cache = false;
  bool strict = false;
  bool no_predict = false;
  bool json = false;
  bool verify = false;
  bool list_volumes = false;
};

std::vector<std::filesystem::path> to_paths(const std::vector<std::string>& inputs) {
  return {inputs.begin(), inputs.end()};
}


// Skipped volumes are listed after the progress bar, so a long build ends with what it left out.
int print_report(const BuildReport& report, const std::string& dir, const char* verb) {
  for (const auto& [path, why] : report.skipped) fmt::print(stderr, "skipped {}: {}\n", path, why);
  std::string notes;
  if (report.from_cache > 0) notes += fmt::format(", {} from the embedding cache", report.from_cache);
  if (!report.skipped.empty()) notes += fmt::format(", {} skipped", report.skipped.size());
  fmt::print("{} {} volumes ({} slices) in {:.1f} s; {} is now generation {}{}\n", verb,
             report.volumes_added, report.slices_added, report.seconds, dir, report.generation,
             notes.empty() ? "" : fmt::format(" ({})", notes.substr(2)));
  return 0;
}

BuildOptions build_options(const IndexArgs& args, ProgressBar& bar) {
  BuildOptions options;
  options.threads = args.threads;
  options.id_prefix = args.id_prefix;
  options.strict = args.strict;
  options.predict = !args.no_predict;
  if (args.frame >= 0) options.read.frame = args.frame;
  if (args.no_cache) {
    options.embedding_cache.clear();
  } else if (!args.cache.empty()) {
    options.embedding_cache = args.cache;
  }
  options.progress = [&bar](const BuildProgress& p) { bar.update(p); };
  return options;
}

int run_build(const IndexArgs& args) {
  std::vector<std::string> notes;
  const IndexSpec spec = IndexSpec::parse(args.index, &notes);  // usage errors before slow work
  for (const auto& note : notes) fmt::print(stderr, "note: {}\n", note);
  ProgressBar bar;
  BuildOptions options = build_options(args, bar);
  options.index = spec;
  const auto report = build_index_from_paths(args.dir, to_paths(args.inputs), args.embedder, options);
  bar.finish();
  return print_report(report, args.dir, "indexed");
}

int run_add(const IndexArgs& args) {
  ProgressBar bar;
  const auto paths = to_paths(args.inputs);
  const auto report = add_to_index_from_paths(args.dir, paths, build_options(args, bar));
  bar.finish();
  return print_report(report, args.dir, "added");
}

int run_remove(const IndexArgs& args) {
  const auto report = remove_from_index(args.dir, args.volume_id);
  fmt::print("removed {} from {}; now generation {}\n", args.volume_id, args.dir,
             report.generation);
  return 0;
}

int run_predict(const IndexArgs& args) {
  const auto report = predict_index(args.dir);
  const auto index = Index::open(args.dir);
  fmt::print("predicted the anatomy of {} volumes without labels in {:.1f} s; {} is now generation "
             "{}\n",
             index->num_predicted(), report.seconds, args.dir, report.generation);
  return 0;
}

int run_info(const IndexArgs& args) {
  const auto index = Index::open(args.dir, {.verify_checksums = args.verify});
  std::uint64_t bytes = 0;
  for (const auto& [name, size] : index->file_sizes()) bytes += size;
  const double per_vector =
      index->num_vectors() > 0 ? double(bytes) / double(index->num_vectors()) : 0;
  if (args.json) {
    fmt::print("{}\n", index_info_json(*index, args.dir, args.verify, true));
    return 0;
  }
  fmt::print("{}\n", args.dir);
  fmt::print("  generation   {}\n", index->generation());
  fmt::print("  index        {}\n", index->spec().str());
  fmt::print("  embedder     {} ({}-d)\n", index->embedder().spec, index->dim());
  fmt::print("  fingerprint  {}\n", index->embedder().fingerprint);
  fmt::print("  volumes      {}\n", index->volumes().size());
  fmt::print("  vectors      {} (float32); {} slices without a body, left out of searches\n",
             index->num_vectors(), index->num_empty_rows());
  fmt::print("  predicted    {} volumes without labels have their anatomy stored\n",
             index->num_predicted());
  fmt::print("  size         {:.1f} MiB, {:.0f} bytes per vector{}\n", double(bytes) / (1 << 20),
             per_vector, args.verify ? ", checksums verified" : "");
  if (args.list_volumes) {
    fmt::print("\n  {:<24} {:>7}  {:<6} {}\n", "volume", "slices", "split", "path");
    for (const auto& v : index->volumes()) {
      fmt::print("  {:<24} {:>7}  {:<6} {}\n", v.id, v.num_slices, v.split, v.source);
    }
  }
  return 0;
}

// voxir index import: vectors made outside voxir (docs/import.md).
struct ImportArgs {
  std::string dir;
  ImportSource source;
  std::string index;  // empty: the default for a new index, the index's own for an existing one
  int threads = 0;
};

int run_import(const ImportArgs& args) {
  ImportOptions options;
  if (!args.index.empty()) {
    std::vector<std::string> notes;
    options.index = IndexSpec::parse(args.index, &notes);
    for (const auto& note : notes) fmt::print(stderr, "note: {}\n", note);
  }
  options.write.threads = args.threads;
  const auto report = import_vectors(args.dir, args.source, options);
  return print_report(report, args.dir, "imported");
}

void add_import_command(CLI::App* cmd, CommandRun& run) {
  auto args = std::make_shared<ImportArgs>();
  CLI::App* import = cmd->add_subcommand(
      "import", "Index vectors made outside voxir, from .npy files (docs/import.md)");
  import->add_option("index-dir", args->dir, "Index folder: a new index, or one made by import")
      ->required();
  import->add_option("vectors", args->source.vectors, "(n, d) float32 or float16 .npy, C order")
      ->required();
  import->add_option("--volume-ids", args->source.volume_ids,
                     "(n,) int32 or int64 .npy: the volume of each row")
      ->required();
  import->add_option("--slice-ids", args->source.slice_ids,
                     "(n,) int32 .npy: the slice of each row (0 = most inferior, 0..N-1 per volume)")
      ->required();
  import->add_option("--names", args->source.names,
                     "Text file: one volume name per distinct volume id, in increasing id order "
                     "(default: the ids as numbers)");
  import->add_option("--index", args->index,
                     fmt::format("Index spec of a new index (default {}; an existing index keeps "
                                 "its own)",
                                 kDefaultIndexSpec));
  import->add_option("--threads", args->threads, "Threads (0: all cores)");
  import->callback([args, &run] { run = [args] { return run_import(*args); }; });
}

// Options shared by build and add.
void add_ingest_options(CLI::App* cmd, IndexArgs& args) {
  cmd->add_option("--threads", args.threads, "Threads (0: all cores)");
  cmd->add_option("--frame", args.frame, kFrameHelp)->check(CLI::NonNegativeNumber);
  cmd->add_option("--cache", args.cache,
                  "Embedding cache folder: volumes embedded before by the same embedder are not "
                  "embedded again (default $XDG_CACHE_HOME/voxir/embeddings or "
                  "~/.cache/voxir/embeddings)");
  cmd->add_flag("--no-cache", args.no_cache, "Do not read or write the embedding cache");
  cmd->add_flag("--strict", args.strict,
                "Fail (with that volume's exit code, writing nothing) when any volume cannot be "
                "read, embedded or labelled. Without it such volumes are skipped and listed at the "
                "end, and the exit code is 0 when at least one volume was indexed");
  cmd->add_option("--id-prefix", args.id_prefix,
                  "Put this in front of every new volume id (e.g. tsv2:); a dataset whose ids "
                  "are taken gets \"<folder>:\" by default");
  cmd->add_flag("--no-predict", args.no_predict,
                "Do not predict and store the anatomy of volumes without labels (then search "
                "predicts it when a query needs it; docs/predicted-anatomy.md)");
}

}  // namespace

void add_index_command(CLI::App& app, CommandRun& run) {
  auto args = std::make_shared<IndexArgs>();
  CLI::App* cmd = app.add_subcommand("index", "Build and maintain an index of slice vectors");
  cmd->require_subcommand(1);

  CLI::App* build = cmd->add_subcommand("build", "Create (or replace) an index from volumes");
  build->add_option("index-dir", args->dir, "Index folder (created; an existing index is replaced)")
      ->required();
  build
      ->add_option("inputs", args->inputs,
                   "A TS dataset folder (with meta.csv), NIfTI files or DICOM series folders")
      ->required();
  build->add_option("--embedder", args->embedder, "Embedder spec")->capture_default_str();
  build
      ->add_option(
          "--index", args->index,
          "Index spec: faiss:Flat, hnswlib:M<links>[,efc<N>] or faiss:IVF<lists>,PQ<m> (round-1 "
          "names Flat, HNSW32, IVF1024,PQ48 still work)")
      ->capture_default_str();
  add_ingest_options(build, *args);
  build->callback([args, &run] { run = [args] { return run_build(*args); }; });

  CLI::App* add = cmd->add_subcommand("add", "Add volumes to an index (with its own embedder)");
  add->add_option("index-dir", args->dir, "Index folder")->required();
  add->add_option("inputs", args->inputs,
                  "A TS dataset folder, NIfTI files or DICOM series folders")
      ->required();
  add_ingest_options(add, *args);
  add->callback([args, &run] { run = [args] { return run_add(*args); }; });

  CLI::App* remove = cmd->add_subcommand("remove", "Remove one volume from an index");
  remove->add_option("index-dir", args->dir, "Index folder")->required();
  remove->add_option("volume-id", args->volume_id, "Id of the volume (see index info --volumes)")
      ->required();
  remove->callback([args, &run] { run = [args] { return run_remove(*args); }; });

  CLI::App* predict = cmd->add_subcommand(
      "predict",
      "Re-predict the anatomy of every volume without labels from the labelled volumes indexed "
      "now, as a new generation (after adding labelled volumes; docs/predicted-anatomy.md)");
  predict->add_option("index-dir", args->dir, "Index folder")->required();
  predict->callback([args, &run] { run = [args] { return run_predict(*args); }; });

  CLI::App* info = cmd->add_subcommand("info", "Describe an index");
  info->add_option("index-dir", args->dir, "Index folder")->required();
  info->add_flag("--json", args->json, "Print JSON (with the list of volumes)");
  info->add_flag("--volumes", args->list_volumes, "List the volumes");
  info->add_flag("--verify", args->verify,
                 "Also check the vectors' checksum (the other files are checked at every open)");
  info->callback([args, &run] { run = [args] { return run_info(*args); }; });

  add_import_command(cmd, run);
}

}  // namespace voxir::cli
