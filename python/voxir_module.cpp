// The `voxir` Python module: the public C++ API (include/voxir/) for notebooks and scripts.
// A thin front end like the CLI: it turns Python arguments into a voxir::Query or build call and
// the answer into plain Python objects (dicts, lists, numbers); no retrieval decision is made here.
// numpy inputs are used in place when they already are float32 and C-contiguous (no copy), and
// the GIL is released while the library works, so Python threads can search in parallel.
#include "voxir/embed.h"
#include "voxir/error.h"
#include "voxir/index.h"
#include "voxir/ingest.h"
#include "voxir/search.h"
#include "voxir/synth.h"
#include "voxir/version.h"
#include "voxir/volume.h"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <memory>
#include <optional>

namespace py = pybind11;

namespace voxir::python {
namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

py::dict to_python(const IndexedVolume& v) {
  py::dict d;
  d["id"] = v.id;
  d["path"] = v.source;
  d["slices"] = v.num_slices;
  d["split"] = v.split;
  d["dims"] = v.dims;
  d["spacing"] = v.spacing;
  d["metadata"] = py::module_::import("json").attr("loads")(v.metadata_json);
  return d;
}

py::dict to_python(const BuildReport& r) {
  py::dict d;
  d["volumes_added"] = r.volumes_added;
  d["slices_added"] = r.slices_added;
  d["skipped"] = r.skipped;
  d["from_cache"] = r.from_cache;
  d["generation"] = r.generation;
  d["seconds"] = r.seconds;
  return d;
}

py::dict to_python(const SearchAnswer& answer) {
  py::list results;
  for (const auto& r : answer.results) {
    py::list alignment;
    for (const auto& a : r.alignment) alignment.append(py::make_tuple(a.query_slice, a.volume_slice, a.similarity));
    py::dict d;
    d["volume"] = r.volume;
    d["path"] = r.path;
    d["score"] = r.score;
    d["votes"] = r.votes;
    d["location"] = py::make_tuple(r.location[0], r.location[1]);
    d["alignment"] = alignment;
    results.append(d);
  }
  const auto& t = answer.timings;
  py::dict timings;
  timings["read"] = t.read_ms;
  timings["embed"] = t.embed_ms;
  timings["candidates"] = t.candidates_ms;
  timings["aggregate"] = t.aggregate_ms;
  timings["rerank"] = t.rerank_ms;
  timings["localize"] = t.localize_ms;
  timings["total"] = t.total_ms;
  py::dict out;
  out["results"] = results;
  out["query_slices"] = py::make_tuple(answer.query_slices[0], answer.query_slices[1]);
  out["query_region"] = answer.query_region.empty() ? py::object(py::none()) : py::str(answer.query_region);
  out["excluded"] = answer.excluded;
  out["timings_ms"] = timings;
  return out;
}

// A volume from a numpy array indexed [k, j, i] (slice, row, column: C order of voxir's i-fastest
// canonical layout) with voxel spacing (i, j, k) in mm; the affine is the plain scaling.
Volume volume_from_array(const FloatArray& hu, const Vec3& spacing) {
  if (hu.ndim() != 3) fail(ErrorKind::kUsage, "hu: expected a 3-D array [slice, row, column], got {}-D", hu.ndim());
  const Dims dims{hu.shape(2), hu.shape(1), hu.shape(0)};
  Affine affine{};
  for (int a = 0; a < 3; ++a) affine[static_cast<std::size_t>(a)][static_cast<std::size_t>(a)] = spacing[static_cast<std::size_t>(a)];
  affine[3][3] = 1;
  return Volume(dims, spacing, affine, std::vector<float>(hu.data(), hu.data() + hu.size()), "RAS");
}

class PyIndex {
 public:
  explicit PyIndex(const std::filesystem::path& dir, bool verify) {
    py::gil_scoped_release release;
    index_ = Index::open(dir, {.verify_checksums = verify});
  }

  [[nodiscard]] py::dict info() const {
    py::dict d;
    d["dir"] = index_->dir();
    d["generation"] = index_->generation();
    d["index"] = index_->spec().str();
    d["embedder"] = index_->embedder().spec;
    d["fingerprint"] = index_->embedder().fingerprint;
    d["dim"] = index_->dim();
    d["volumes"] = index_->volumes().size();
    d["vectors"] = index_->num_vectors();
    d["predicted_volumes"] = index_->num_predicted();
    return d;
  }

  [[nodiscard]] py::list volumes() const {
    py::list out;
    for (const auto& v : index_->volumes()) out.append(to_python(v));
    return out;
  }

  // The stored slice vectors of one volume, as a read-only (num_slices, dim) array over the
  // index's memory-mapped file (no copy); it keeps the index open while it lives.
  [[nodiscard]] py::array vectors(const std::string& id, py::object self) const {
    const IndexedVolume* v = index_->find(id);
    if (v == nullptr) fail(ErrorKind::kNotFound, "{}: no indexed volume '{}'", index_->dir().string(), id);
    const auto rows = index_->volume_vectors(static_cast<std::size_t>(v - index_->volumes().data()));
    py::array_t<float> array({v->num_slices, static_cast<std::int64_t>(index_->dim())},
                             {static_cast<std::int64_t>(index_->dim() * sizeof(float)),
                              static_cast<std::int64_t>(sizeof(float))},
                             rows.data(), self);
    array.attr("setflags")(py::arg("write") = false);
    return array;
  }

  [[nodiscard]] py::dict search(std::optional<std::filesystem::path> path,
                                std::optional<FloatArray> vectors, std::optional<FloatArray> hu,
                                std::optional<std::string> volume_id, Vec3 spacing,
                                std::int64_t first_slice, std::optional<std::array<std::int64_t, 2>> slices,
                                std::string region, std::optional<std::filesystem::path> labels,
                                int k, std::string mode, std::optional<int> rerank, int top,
                                bool exclude_self, std::vector<std::string> exclude, int ef, int nprobe, int refine,
                                std::string series, std::optional<std::int64_t> frame) const {
    Query query;
    std::optional<Volume> volume;
    if (path) query.path = *path;
    query.read.series_uid = std::move(series);
    query.read.frame = frame;
    if (vectors) {
      if (vectors->ndim() != 2 || vectors->shape(1) != index_->dim()) {
        fail(ErrorKind::kUsage, "vectors: expected a 2-D array (slices, {}), got shape {}",
             index_->dim(), fmt::join(std::vector<py::ssize_t>(vectors->shape(), vectors->shape() + vectors->ndim()), "x"));
      }
      query.vectors = {vectors->data(), static_cast<std::size_t>(vectors->size())};
      query.first_slice = first_slice;
    }
    if (hu) query.volume = &volume.emplace(volume_from_array(*hu, spacing));
    if (volume_id) query.indexed_id = *volume_id;
    query.slices = slices;
    query.region = std::move(region);
    if (labels) query.labels = *labels;
    query.exclude_self = exclude_self;
    query.params.k = k;
    query.params.mode = parse_vote_mode(mode);
    query.params.rerank = rerank.has_value();
    if (rerank) query.params.rerank_n = *rerank;
    query.params.top = top;
    query.params.exclude = std::move(exclude);
    query.params.ann.ef_search = ef;
    query.params.ann.nprobe = nprobe;
    query.params.ann.refine = refine;
    SearchAnswer answer;
    {
      py::gil_scoped_release release;  // `vectors` and `hu` stay referenced by this frame
      answer = voxir::search(*index_, query);
    }
    return to_python(answer);
  }

 private:
  std::unique_ptr<Index> index_;
};

BuildOptions build_options(const std::string& index, int threads,
                           std::optional<std::filesystem::path> cache, const std::string& id_prefix) {
  BuildOptions options;
  options.id_prefix = id_prefix;
  options.index = IndexSpec::parse(index);
  options.threads = threads;
  if (cache) options.embedding_cache = *cache;  // an empty path: no cache
  return options;
}

// A volume of precomputed slice vectors for write_vectors: (slices, dim) float32.
VolumeVectors volume_vectors(const std::string& id, const FloatArray& rows) {
  if (rows.ndim() != 2) fail(ErrorKind::kUsage, "{}: expected a 2-D array (slices, dim), got {}-D", id, rows.ndim());
  VolumeVectors v;
  v.volume.id = id;
  v.volume.source = id;
  v.volume.num_slices = rows.shape(0);
  v.vectors.assign(rows.data(), rows.data() + rows.size());
  return v;
}

}  // namespace
}  // namespace voxir::python

PYBIND11_MODULE(voxir, m) {
  using namespace voxir;
  using namespace voxir::python;
  m.doc() = "voxir: content-based retrieval of 3D CT volumes (see the voxir README).";
  m.attr("__version__") = std::string(version());

  static py::exception<Error> error(m, "Error", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      PyErr_SetString(error.ptr(), fmt::format("{}: {}", to_string(e.kind()), e.what()).c_str());
    }
  });

  py::class_<PyIndex>(m, "Index", "An opened index folder (immutable; searches may run in threads).")
      .def(py::init<const std::filesystem::path&, bool>(), py::arg("dir"), py::arg("verify") = false,
           "Opens the index in `dir`; verify=True re-computes every file's checksum.")
      .def_property_readonly("info", &PyIndex::info, "Generation, specs, dimension and counts.")
      .def_property_readonly("volumes", &PyIndex::volumes, "The indexed volumes, as dicts.")
      .def(
          "vectors",
          [](py::object self, const std::string& id) { return self.cast<const PyIndex&>().vectors(id, self); },
          py::arg("volume_id"), "One volume's stored slice vectors, (slices, dim) float32, read-only, no copy.")
      .def("search", &PyIndex::search, py::kw_only(), py::arg("path") = py::none(),
           py::arg("vectors") = py::none(), py::arg("hu") = py::none(), py::arg("volume_id") = py::none(),
           py::arg("spacing") = Vec3{1, 1, 1}, py::arg("first_slice") = 0, py::arg("slices") = py::none(),
           py::arg("region") = "", py::arg("labels") = py::none(), py::arg("k") = 10, py::arg("mode") = "count",
           py::arg("rerank") = 50, py::arg("top") = 10, py::arg("exclude_self") = false,
           py::arg("exclude") = std::vector<std::string>{}, py::arg("ef") = AnnParams{}.ef_search, py::arg("nprobe") = AnnParams{}.nprobe,
           py::arg("refine") = AnnParams{}.refine,
           py::arg("series") = "", py::arg("frame") = py::none(),
           R"(Searches with exactly one of: path (NIfTI file or DICOM folder), vectors ((n, dim) float32 slice
embeddings of slices first_slice..), hu ((slices, rows, columns) HU array in RAS+ order with spacing
(i, j, k) in mm) or volume_id (an indexed volume). slices=(a, b) or region (with labels for path/hu)
picks the query slices. rerank=None ranks by votes only. Returns {"results": [...], "timings_ms": ...}.)");

  m.def(
      "build_index",
      [](const std::filesystem::path& dir, const std::vector<std::filesystem::path>& inputs,
         const std::string& embedder, const std::string& index, int threads,
         std::optional<std::filesystem::path> cache, const std::string& id_prefix) {
        const BuildOptions options = build_options(index, threads, std::move(cache), id_prefix);
        BuildReport report;
        {
          py::gil_scoped_release release;
          report = build_index_from_paths(dir, inputs, embedder, options);
        }
        return to_python(report);
      },
      py::arg("dir"), py::arg("inputs"), py::arg("embedder") = kDefaultEmbedderSpec, py::arg("index") = kDefaultIndexSpec,
      py::arg("threads") = 0, py::arg("cache") = py::none(), py::arg("id_prefix") = "",
      "Creates (or replaces) an index from TS dataset folders, NIfTI files or DICOM folders. cache: "
      "embedding cache folder (default: the user's cache; '' for none).");
  m.def(
      "add_to_index",
      [](const std::filesystem::path& dir, const std::vector<std::filesystem::path>& inputs, int threads,
         std::optional<std::filesystem::path> cache, const std::string& id_prefix) {
        BuildOptions options;
        options.threads = threads;
        options.id_prefix = id_prefix;
        if (cache) options.embedding_cache = *cache;
        BuildReport report;
        {
          py::gil_scoped_release release;
          report = add_to_index_from_paths(dir, inputs, options);
        }
        return to_python(report);
      },
      py::arg("dir"), py::arg("inputs"), py::arg("threads") = 0, py::arg("cache") = py::none(),
      py::arg("id_prefix") = "", "Adds volumes to an index, embedded with the index's own embedder.");
  m.def(
      "remove_from_index",
      [](const std::filesystem::path& dir, const std::string& volume_id) {
        BuildReport report;
        {
          py::gil_scoped_release release;
          report = remove_from_index(dir, volume_id);
        }
        return to_python(report);
      },
      py::arg("dir"), py::arg("volume_id"), "Removes one volume from an index.");
  m.def(
      "predict_index",
      [](const std::filesystem::path& dir) {
        BuildReport report;
        {
          py::gil_scoped_release release;
          report = predict_index(dir);
        }
        return to_python(report);
      },
      py::arg("dir"),
      "Re-predicts the anatomy of every volume without labels from the labelled volumes indexed "
      "now and stores it as a new generation (docs/predicted-anatomy.md).");
  m.def(
      "write_vectors",
      [](const std::filesystem::path& dir, const py::dict& volumes, const std::string& index,
         const std::string& embedder, const std::string& fingerprint) {
        std::vector<VolumeVectors> add;
        int dim = 0;
        for (const auto& [key, value] : volumes) {
          add.push_back(volume_vectors(py::cast<std::string>(key), py::cast<FloatArray>(value)));
          const auto d = static_cast<int>(py::cast<FloatArray>(value).shape(1));
          if (dim != 0 && d != dim) fail(ErrorKind::kUsage, "volume {}: {}-d vectors, others are {}-d", add.back().volume.id, d, dim);
          dim = d;
        }
        const IndexSpec spec = IndexSpec::parse(index);
        BuildReport report;
        {
          py::gil_scoped_release release;
          report = write_generation(dir, /*create=*/true, spec, {embedder, fingerprint, dim}, std::move(add), {}, {});
        }
        return to_python(report);
      },
      py::arg("dir"), py::arg("volumes"), py::arg("index") = "Flat", py::arg("embedder") = "external",
      py::arg("fingerprint") = "external",
      "Creates an index from precomputed slice vectors: volumes = {id: (slices, dim) float32 array}, each "
      "row L2-normalised. Queries must then come as vectors (search(vectors=...)) or volume ids.");
  m.def(
      "read_volume",
      [](const std::filesystem::path& path, const std::string& series, std::optional<std::int64_t> frame) {
        std::unique_ptr<Volume> volume;
        {
          py::gil_scoped_release release;
          ReadOptions read;
          read.series_uid = series;
          read.frame = frame;
          volume = std::make_unique<Volume>(read_volume(path, read));
        }
        // The array owns the volume (no copy of the voxels).
        const Volume* v = volume.get();
        py::capsule owner(volume.release(), [](void* p) { delete static_cast<Volume*>(p); });
        py::array_t<float> hu({v->nz(), v->ny(), v->nx()}, v->hu().data(), owner);
        py::dict d;
        d["hu"] = hu;
        d["spacing"] = v->spacing();
        d["affine"] = v->affine();
        d["orientation"] = v->source_orientation();
        return d;
      },
      py::arg("path"), py::arg("series") = "", py::arg("frame") = py::none(),
      "Reads a NIfTI file or DICOM folder (frame: of a 4-D input) in voxir's canonical order: {'hu': (slices, rows, columns) "
      "float32 array (RAS+, slice 0 inferior), 'spacing': (i, j, k) mm, 'affine', 'orientation'}.");
  m.def(
      "synth",
      [](const std::filesystem::path& out, int subjects, std::uint64_t seed, double spacing, int matrix,
         double test_fraction) {
        synth::SynthOptions options;
        options.subjects = subjects;
        options.seed = seed;
        options.subject.slice_spacing_mm = spacing;
        options.subject.matrix = matrix;
        options.test_fraction = test_fraction;
        py::gil_scoped_release release;
        (void)synth::write_dataset(out, options);
      },
      py::arg("out"), py::arg("subjects") = 10, py::arg("seed") = 1, py::arg("spacing") = 0.0,
      py::arg("matrix") = 0, py::arg("test_fraction") = 0.2,
      "Writes synthetic CT phantoms with exact TotalSegmentator labels in the TS layout (voxir synth).");
}
