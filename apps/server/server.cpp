#include "server.h"

#include "errors.h"
#include "jobs.h"
#include "upload.h"
#include "voxir/embed.h"
#include "voxir/error.h"
#include "voxir/explain.h"
#include "voxir/index.h"
#include "voxir/ingest.h"
#include "voxir/json.h"
#include "voxir/labels.h"
#include "voxir/search.h"
#include "voxir/volume.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <arpa/inet.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <chrono>
#include <fstream>
#include <mutex>
#include <semaphore>
#include <thread>
#include <set>

namespace voxir::server {
namespace data {
extern const std::string_view kOpenApi;
}

namespace {

using Json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxJsonBody = std::size_t{1} << 20;
constexpr std::int64_t kMaxPage = 1000;

// Constant-time comparison: the time taken does not tell how many leading bytes matched.
bool tokens_equal(std::string_view a, std::string_view b) {
  const std::size_t n = std::max(a.size(), b.size());
  unsigned diff = a.size() == b.size() ? 0U : 1U;
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned>(x ^ y);
  }
  return diff == 0;
}

// Client file names, ids and paths may hold bytes that are not UTF-8: they are replaced (U+FFFD),
// where dump() would throw (inside an error handler, that would end the process).
std::string json_text(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

void send_json(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_content(body, "application/json");
}

void send_error(httplib::Response& res, const ApiError& e) {
  send_json(res, e.status, json_text(Json{{"error", {{"kind", e.kind}, {"message", e.message}}}}));
}

// The index as CURRENT names it now, with an embedder for its queries (made once per generation,
// so a model is not loaded per request). A generation written by another process (`index add`,
// a PACS sync) or by a job is picked up at the next request; requests already running keep the
// generation they started with.
class LiveIndex {
 public:
  struct Snapshot {
    std::shared_ptr<const Index> index;
    std::shared_ptr<const Embedder> embedder;
  };

  explicit LiveIndex(std::filesystem::path dir) : dir_(std::move(dir)) { current_ = load(); }

  Snapshot get() {
    std::lock_guard guard(lock_);
    if (!current_.index->is_current()) current_ = load();
    return current_;
  }

  [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }

 private:
  Snapshot load() const {
    Snapshot s;
    s.index = Index::open(dir_);
    // An index of imported vectors has no embedder: queries by volume id or vectors still work.
    try {
      s.embedder = make_embedder(s.index->embedder().spec);
    } catch (const Error&) {
      s.embedder = nullptr;
    }
    return s;
  }

  std::filesystem::path dir_;
  std::mutex lock_;
  Snapshot current_;
};

// What a search request asks for beyond the Query: how to explain, and its own time limit.
struct SearchExtras {
  ExplainOptions explain;
  double time_limit_s = 0;  // 0: the server's
};

// Fills `query` and `extras` from the search JSON of the API (docs/server.md). `allow_volume`:
// the body may name an indexed volume (JSON requests; an upload is the volume in multipart ones).
void apply_search_json(const Json& in, Query& query, SearchExtras& extras, bool allow_volume) {
  if (!in.is_object()) throw RequestError(400, "usage error", "the search parameters must be a JSON object");
  static const std::set<std::string> known = {"volume", "slices", "region", "require", "k",
                                              "mode",   "rerank", "top",    "exclude_self", "ef",
                                              "nprobe", "refine", "explain", "explain_pairs", "time_limit_s"};
  for (const auto& [key, value] : in.items()) {
    if (known.count(key) == 0 || (key == "volume" && !allow_volume)) {
      throw RequestError(400, "usage error",
                         fmt::format("unknown search parameter '{}'; expected {}{}", key,
                                     allow_volume ? "volume, " : "",
                                     "slices, region, require, k, mode, rerank, top, exclude_self, "
                                     "ef, nprobe, refine, explain, explain_pairs, time_limit_s"));
    }
  }
  const auto get = [&](const char* key, auto& out) {
    if (!in.contains(key)) return;
    try {
      out = in.at(key).get<std::remove_reference_t<decltype(out)>>();
    } catch (const nlohmann::json::exception&) {
      throw RequestError(400, "usage error", fmt::format("search parameter '{}' has the wrong type", key));
    }
  };
  get("volume", query.indexed_id);
  get("region", query.region);
  get("require", query.params.require);
  if (in.contains("slices")) {
    std::array<std::int64_t, 2> s{};
    get("slices", s);
    query.slices = s;
  }
  auto& p = query.params;
  get("k", p.k);
  get("top", p.top);
  get("exclude_self", query.exclude_self);
  get("ef", p.ann.ef_search);
  get("nprobe", p.ann.nprobe);
  get("refine", p.ann.refine);
  get("explain", p.explain);
  get("explain_pairs", extras.explain.pairs);
  get("time_limit_s", extras.time_limit_s);
  if (in.contains("time_limit_s") && !(extras.time_limit_s > 0)) {
    throw RequestError(400, "usage error",
                       fmt::format("search parameter 'time_limit_s' = {}: expected seconds > 0", extras.time_limit_s));
  }
  extras.explain.validate();
  if (in.contains("mode")) {
    std::string mode;
    get("mode", mode);
    p.mode = parse_vote_mode(mode);
  }
  // "rerank": false (votes only), true (the default N) or N volumes.
  if (in.contains("rerank")) {
    const auto& r = in.at("rerank");
    if (r.is_boolean()) {
      p.rerank = r.get<bool>();
    } else if (r.is_number_integer()) {
      p.rerank = r.get<int>() > 0;
      if (p.rerank) p.rerank_n = r.get<int>();
    } else {
      throw RequestError(400, "usage error", "search parameter 'rerank' must be true, false or a number of volumes");
    }
  }
  p.validate();
}

Json parse_json(const std::string& text, const char* what) {
  try {
    return Json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw RequestError(400, "usage error", fmt::format("{} is not valid JSON: {}", what, e.what()));
  }
}

std::string read_body(const httplib::ContentReader& reader, std::size_t max_bytes) {
  std::string body;
  bool too_large = false;
  const bool ok = reader([&](const char* data, std::size_t size) {
    if (body.size() + size > max_bytes) {
      too_large = true;
      return false;
    }
    body.append(data, size);
    return true;
  });
  if (too_large) throw RequestError(413, "too large", fmt::format("the body is larger than {} bytes", max_bytes));
  if (!ok) throw RequestError(400, "usage error", "the request body could not be read");
  return body;
}

// `text` as one URL path segment: every byte but unreserved characters percent-encoded.
std::string path_segment(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    }
  }
  return out;
}

std::string volume_link(std::string_view id, std::string_view what) {
  return fmt::format("/api/v1/volumes/{}/{}", path_segment(id), what);
}

// `volume` as gzip-compressed NIfTI bytes, written through a private temp folder under `root`
// (write_nifti writes files), which goes again whatever happens.
std::string nifti_bytes(const Volume& volume, NiftiDatatype datatype, const std::filesystem::path& root) {
  const auto folder = make_private_folder(root, "voxir-image");
  std::string bytes;
  try {
    const auto file = folder / "volume.nii.gz";
    write_nifti(volume, file, datatype);
    std::ifstream in(file, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  } catch (...) {
    std::filesystem::remove_all(folder);
    throw;
  }
  std::filesystem::remove_all(folder);
  return bytes;
}

std::int64_t int_param(const httplib::Request& req, const char* name, std::int64_t fallback,
                       std::int64_t lo, std::int64_t hi) {
  if (!req.has_param(name)) return fallback;
  const std::string text = req.get_param_value(name);
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < lo || v > hi) {
    throw RequestError(400, "usage error",
                       fmt::format("query parameter {}={}: expected an integer in {}..{}", name, text, lo, hi));
  }
  return v;
}

bool is_json(const httplib::Request& req) {
  const std::string type = req.get_header_value("Content-Type");
  return type.rfind("application/json", 0) == 0;
}

// `png` as a data: URL, so an answer carries its pictures and the server keeps no files.
std::string png_data_url(std::span<const std::uint8_t> png) {
  std::string out = "data:image/png;base64,";
  const std::size_t head = out.size();
  out.resize(head + 4 * ((png.size() + 2) / 3) + 1);  // EVP_EncodeBlock ends with a NUL
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data() + head), png.data(),
                                static_cast<int>(png.size()));
  out.resize(head + static_cast<std::size_t>(n));
  return out;
}

// What the viewer needs to overlay a volume's labels: "label_map", the link of its label map (null
// when it has none, or its files are gone), and "label_values", the map value of each class its
// stored labels hold (voxir/labels.h: fixed by the catalogue, so no file is read here).
void add_label_map(Json& out, const IndexedVolume& v) {
  std::error_code ec;
  const bool available = !v.labels_source.empty() && std::filesystem::exists(v.labels_source, ec);
  out["label_map"] = available ? Json(volume_link(v.id, "labels")) : Json(nullptr);
  Json values = Json::array();
  if (available) {
    std::set<std::string> seen;
    for (const auto& l : out["labels"]) {
      const std::string name = l["class"].get<std::string>();
      const ClassInfo* c = ClassCatalog::builtin().find(name);
      if (c != nullptr && seen.insert(name).second) {
        values.push_back({{"value", label_map_value(c->index)}, {"class", name}});
      }
    }
  }
  out["label_values"] = values;
}

// The DICOM series of a zip upload: unpacked into the upload's temp folder and read. A zip in which
// the reader finds no series is a bad upload (422), not a missing resource; messages name the zip
// as the client called it.
Volume read_unpacked(Upload& upload, const Upload::File& file, const std::string& series_uid,
                     std::uint64_t max_bytes) {
  const auto& folder = upload.unpack(file, max_bytes);
  ReadOptions read;
  read.series_uid = series_uid;
  try {
    return read_volume(folder, read);
  } catch (const Error& e) {
    throw Error(e.kind() == ErrorKind::kNotFound ? ErrorKind::kInvalidInput : e.kind(), upload.describe(e.what()));
  }
}

// Per-request bookkeeping for the access log; a request is served on one thread.
thread_local Clock::time_point request_start;
thread_local const char* request_route = "-";

}  // namespace

bool is_loopback(std::string_view host) {
  if (host == "localhost") return true;
  in_addr v4{};
  if (::inet_pton(AF_INET, std::string(host).c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, std::string(host).c_str(), &v6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&v6);
  }
  return false;
}

void check_options(const ServerOptions& o) {
  if (!is_loopback(o.host) && o.token.empty()) {
    fail(ErrorKind::kUsage,
         "refusing to serve on {} without a token: any machine that reaches it could search and "
         "change the index. Give --token-file, or serve on 127.0.0.1 behind a reverse proxy "
         "(docs/server.md)",
         o.host);
  }
  if (o.port < 0 || o.port > 65535) fail(ErrorKind::kUsage, "--port {}: expected 0..65535", o.port);
  if (o.threads < 1) fail(ErrorKind::kUsage, "--threads {}: expected at least 1", o.threads);
  if (o.search_slots < 0) fail(ErrorKind::kUsage, "--search-slots {}: expected 0 (one per core) or more", o.search_slots);
  if (o.max_upload_bytes == 0) fail(ErrorKind::kUsage, "--max-upload-mb must be positive");
  if (o.timeout_s < 1) fail(ErrorKind::kUsage, "--timeout {}: expected at least 1 second", o.timeout_s);
  if (!(o.search_time_limit_s > 0)) {
    fail(ErrorKind::kUsage, "--search-time-limit {}: expected seconds > 0", o.search_time_limit_s);
  }
}

std::string_view openapi_document() { return data::kOpenApi; }

struct Server::Impl {
  Impl(std::filesystem::path dir, ServerOptions opts) : options(std::move(opts)), live(std::move(dir)) {}

  ServerOptions options;
  LiveIndex live;
  // Searches beyond the cores would only slow each other down: they wait here for a slot.
  std::counting_semaphore<1024> search_slots{std::clamp(
      options.search_slots > 0 ? options.search_slots
                               : static_cast<int>(std::thread::hardware_concurrency()),
      1, 1024)};
  httplib::Server http;
  std::vector<Route> routes;
  Jobs jobs;
  int port = -1;
  std::atomic<bool> run_entered{false}, run_finished{false}, stop_requested{false};

  // Each registers `handler` on `pattern` (httplib's regex) and records the route as the OpenAPI
  // document names it; the handler's failures become JSON errors.
  using Plain = std::function<void(const httplib::Request&, httplib::Response&)>;
  using Reading = std::function<void(const httplib::Request&, httplib::Response&, const httplib::ContentReader&)>;
  void get(const char* api_path, const char* pattern, Plain handler) {
    routes.push_back({"GET", api_path});
    http.Get(pattern, guarded(api_path, std::move(handler)));
  }
  void del(const char* api_path, const char* pattern, Plain handler) {
    routes.push_back({"DELETE", api_path});
    http.Delete(pattern, guarded(api_path, std::move(handler)));
  }
  void post(const char* api_path, Reading handler) {
    routes.push_back({"POST", api_path});
    http.Post(api_path, [api_path, handler = std::move(handler)](const httplib::Request& req, httplib::Response& res,
                                                                 const httplib::ContentReader& reader) {
      request_route = api_path;
      try {
        handler(req, res, reader);
      } catch (...) {
        send_error(res, api_error_from_current_exception());
      }
    });
  }
  static Plain guarded(const char* api_path, Plain handler) {
    return [api_path, handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
      request_route = api_path;
      try {
        handler(req, res);
      } catch (...) {
        send_error(res, api_error_from_current_exception());
      }
    };
  }

  void log_request(const httplib::Request& req, const httplib::Response& res) const {
    if (!options.log) return;
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - request_start).count();
    options.log(fmt::format("{:%Y-%m-%dT%H:%M:%SZ} {} {} {} {:.1f} ms",
                            fmt::gmtime(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now())),
                            req.method, std::string_view(request_route) == "-" ? req.path : std::string(request_route), res.status, ms));
  }

  void register_routes();
  void search(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader);
  void add_volumes(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader);
  void check_length(const httplib::Request& req) const {
    if (req.has_header("Content-Length") &&
        req.get_header_value<std::uint64_t>("Content-Length") > options.max_upload_bytes) {
      throw RequestError(413, "too large",
                         fmt::format("the upload is larger than the limit of {} bytes", options.max_upload_bytes));
    }
  }
};

void Server::Impl::register_routes() {
  get("/api/v1/health", "/api/v1/health", [this](const httplib::Request&, httplib::Response& res) {
    const auto snap = live.get();
    send_json(res, 200, json_text(Json{{"status", "ok"}, {"generation", snap.index->generation()}}));
  });
  get("/api/v1/openapi.json", "/api/v1/openapi.json",
        [](const httplib::Request&, httplib::Response& res) { send_json(res, 200, std::string(openapi_document())); });
  get("/api/v1/index", "/api/v1/index", [this](const httplib::Request&, httplib::Response& res) {
    const auto snap = live.get();
    send_json(res, 200, index_info_json(*snap.index, live.dir().filename().string(), false, false, -1));
  });
  get("/api/v1/volumes", "/api/v1/volumes", [this](const httplib::Request& req, httplib::Response& res) {
    const auto snap = live.get();
    const auto volumes = snap.index->volumes();
    const auto n = static_cast<std::int64_t>(volumes.size());
    const std::int64_t offset = int_param(req, "offset", 0, 0, n);
    const std::int64_t limit = int_param(req, "limit", 100, 1, kMaxPage);
    Json list = Json::array();
    for (std::int64_t i = offset; i < std::min(n, offset + limit); ++i) {
      const auto& v = volumes[static_cast<std::size_t>(i)];
      list.push_back({{"id", v.id}, {"slices", v.num_slices}, {"split", v.split},
                      {"image", volume_link(v.id, "image")}});
    }
    Json out = {{"volumes", list}, {"total", n}};
    out["next"] = offset + limit < n ? Json(offset + limit) : Json(nullptr);
    send_json(res, 200, json_text(out));
  });
  // Before the plain volume route, whose pattern would also match these.
  get("/api/v1/volumes/{id}/image", R"(/api/v1/volumes/(.+)/image)",
        [this](const httplib::Request& req, httplib::Response& res) {
          const auto snap = live.get();
          const std::string id = req.matches[1];
          const IndexedVolume* v = snap.index->find(id);
          if (v == nullptr) fail(ErrorKind::kNotFound, "no indexed volume '{}'", id);
          const Volume volume = read_volume(v->source);
          res.set_header("Content-Disposition", fmt::format("inline; filename=\"{}.nii.gz\"", id));
          res.set_content(nifti_bytes(volume, NiftiDatatype::kInt16, options.upload_dir), "application/gzip");
        });
  get("/api/v1/volumes/{id}/labels", R"(/api/v1/volumes/(.+)/labels)",
        [this](const httplib::Request& req, httplib::Response& res) {
          const auto snap = live.get();
          const std::string id = req.matches[1];
          const IndexedVolume* v = snap.index->find(id);
          if (v == nullptr) fail(ErrorKind::kNotFound, "no indexed volume '{}'", id);
          if (v->labels_source.empty()) {
            const auto pos = static_cast<std::size_t>(v - snap.index->volumes().data());
            if (snap.index->labels(pos).presence_bytes > 0) {
              fail(ErrorKind::kNotFound,
                   "volume '{}' has labels, but this index does not record where they were read from "
                   "(written before index format version 3); index it again to show them",
                   id);
            }
            fail(ErrorKind::kNotFound, "volume '{}' has no labels (it was indexed without label masks)", id);
          }
          std::error_code ec;
          if (!std::filesystem::exists(v->labels_source, ec)) {
            fail(ErrorKind::kNotFound, "the labels of volume '{}' were read from {}, which is gone", id,
                 v->labels_source);
          }
          // The CT gives the grid: the map is checked against it and written on it, as /image is.
          const Volume ct = read_volume(v->source);
          const Volume map = read_label_map(v->labels_source, ct);
          const auto type = ClassCatalog::builtin().classes().size() < 255 ? NiftiDatatype::kUint8
                                                                           : NiftiDatatype::kInt16;
          res.set_header("Content-Disposition", fmt::format("inline; filename=\"{}-labels.nii.gz\"", id));
          res.set_content(nifti_bytes(map, type, options.upload_dir), "application/gzip");
        });
  get("/api/v1/volumes/{id}", R"(/api/v1/volumes/(.+))",
        [this](const httplib::Request& req, httplib::Response& res) {
          const auto snap = live.get();
          Json out = Json::parse(volume_json(*snap.index, req.matches[1].str(), -1));
          const std::string id = out["id"].get<std::string>();
          out["image"] = volume_link(id, "image");
          add_label_map(out, *snap.index->find(id));
          send_json(res, 200, json_text(out));
        });
  post("/api/v1/search",
        [this](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
          search(req, res, reader);
        });
  post("/api/v1/volumes",
        [this](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
          add_volumes(req, res, reader);
        });
  del("/api/v1/volumes/{id}", R"(/api/v1/volumes/(.+))",
        [this](const httplib::Request& req, httplib::Response& res) {
          const std::string id = req.matches[1];
          const auto snap = live.get();
          const IndexedVolume* v = snap.index->find(id);
          if (v == nullptr) fail(ErrorKind::kNotFound, "no indexed volume '{}'", id);
          const auto dir = live.dir();
          // A volume that came in through POST /volumes takes its kept upload with it.
          std::filesystem::path upload = std::filesystem::weakly_canonical(std::filesystem::path(v->source)).parent_path();
          if (upload.parent_path() != std::filesystem::weakly_canonical(dir / "uploads")) upload.clear();
          const std::string job = jobs.submit("remove", [dir, id, upload](const Jobs::Progress& progress) {
            progress(0, 1);
            const auto report = remove_from_index(dir, id);
            if (!upload.empty()) std::filesystem::remove_all(upload);
            progress(1, 1);
            return Json{{"removed", id}, {"generation", report.generation}};
          });
          send_json(res, 202, json_text(Json{{"job", job}, {"status", fmt::format("/api/v1/jobs/{}", job)}}));
        });
  get("/api/v1/jobs/{id}", R"(/api/v1/jobs/([^/]+))",
        [this](const httplib::Request& req, httplib::Response& res) {
          const auto status = jobs.status(req.matches[1]);
          if (!status) fail(ErrorKind::kNotFound, "no job '{}'", req.matches[1].str());
          send_json(res, 200, json_text(*status));
        });
}

void Server::Impl::search(const httplib::Request& req, httplib::Response& res,
                          const httplib::ContentReader& reader) {
  const auto snap = live.get();
  Query query;
  SearchExtras extras;
  std::string query_name;
  std::optional<Upload> upload;
  std::optional<Volume> unpacked;  // the series of a zip upload
  if (req.is_multipart_form_data()) {
    check_length(req);
    upload.emplace(reader, options.upload_dir, options.max_upload_bytes,
                   std::set<std::string>{"file", "labels"}, std::set<std::string>{"params", "series"});
    const Upload::File* file = upload->file("file");
    if (file == nullptr) {
      throw RequestError(400, "usage error", "a search upload needs a 'file' part (.nii.gz, or a zip of a DICOM series)");
    }
    if (is_zip(file->path)) {
      unpacked.emplace(read_unpacked(*upload, *file, upload->text("series"), options.max_upload_bytes));
      query.volume = &*unpacked;
    } else {
      query.path = file->path;
    }
    query_name = file->client_name;
    if (const Upload::File* labels = upload->file("labels")) query.labels = labels->path;
    const std::string params = upload->text("params");
    if (!params.empty()) apply_search_json(parse_json(params, "the 'params' part"), query, extras, false);
  } else if (is_json(req)) {
    apply_search_json(parse_json(read_body(reader, kMaxJsonBody), "the body"), query, extras, true);
    if (query.indexed_id.empty()) {
      throw RequestError(400, "usage error", "a JSON search names an indexed \"volume\"; upload a file with multipart/form-data");
    }
    query_name = query.indexed_id;
  } else {
    throw RequestError(415, "unsupported media type",
                       fmt::format("Content-Type '{}': expected application/json or multipart/form-data",
                                   req.get_header_value("Content-Type")));
  }
  query.embedder = snap.embedder.get();
  if (extras.time_limit_s > options.search_time_limit_s) {
    throw RequestError(400, "usage error",
                       fmt::format("search parameter 'time_limit_s' = {}: this server allows at most {} s",
                                   extras.time_limit_s, options.search_time_limit_s));
  }
  const double time_limit = extras.time_limit_s > 0 ? extras.time_limit_s : options.search_time_limit_s;
  if (!search_slots.try_acquire_for(std::chrono::seconds(options.timeout_s))) {
    throw RequestError(503, "busy", fmt::format("no search slot came free within {} s", options.timeout_s));
  }
  struct Release {
    std::counting_semaphore<1024>& slots;
    ~Release() { slots.release(); }
  } release{search_slots};
  // Counted from here: the wait for a slot has its own limit.
  query.params.set_time_limit(time_limit);
  SearchAnswer answer;
  try {
    answer = voxir::search(*snap.index, query);
  } catch (const Error& e) {
    // A zip's series is searched as a volume, whose errors say "query volume": name the zip too.
    const Error zipped = unpacked ? e.wrap(query_name) : e;
    const Error named = upload ? Error(zipped.kind(), upload->describe(zipped.what())) : zipped;
    if (e.kind() == ErrorKind::kTimeout) throw named.wrap(fmt::format("search time limit {} s", time_limit));
    throw named;
  }
  Json out = Json::parse(search_answer_json(answer, query.params, live.dir().filename().string(), query_name, -1));
  for (auto& r : out["results"]) r["image"] = volume_link(r["volume"].get<std::string>(), "image");
  if (query.params.explain) {
    const auto explained = explain(*snap.index, query, answer, extras.explain);
    for (std::size_t i = 0; i < explained.size(); ++i) {
      const auto& e = explained[i];
      out["results"][i]["explanation"] = {
          {"alignment", Json::parse(e.alignment_json)},
          {"heatmap", png_data_url(e.heatmap_png)},
          {"strip", e.strip_png.empty() ? Json(nullptr) : Json(png_data_url(e.strip_png))}};
    }
  }
  send_json(res, 200, json_text(out));
}

void Server::Impl::add_volumes(const httplib::Request& req, httplib::Response& res,
                               const httplib::ContentReader& reader) {
  if (!req.is_multipart_form_data()) {
    throw RequestError(415, "unsupported media type", "adding volumes takes multipart/form-data with 'file' parts");
  }
  check_length(req);
  // Indexed volumes are re-read from their source (the image route, re-indexing), so uploads are
  // kept: in <index-dir>/uploads/, removed again when the job fails or the volume is removed.
  const auto store = live.dir() / "uploads";
  std::filesystem::create_directories(store);
  Upload upload(reader, options.upload_dir, options.max_upload_bytes, {"file", "labels"}, {"id", "series"});
  if (upload.file("file") == nullptr) throw RequestError(400, "usage error", "no 'file' part to add");
  if (upload.file("labels") != nullptr && upload.files().size() != 2) {
    throw RequestError(400, "usage error", "a 'labels' part goes with exactly one 'file' part");
  }
  const std::size_t volumes = static_cast<std::size_t>(
      std::count_if(upload.files().begin(), upload.files().end(), [](const auto& f) { return f.field == "file"; }));
  if (!upload.text("id").empty() && volumes != 1) {
    throw RequestError(400, "usage error", "an 'id' part goes with exactly one 'file' part");
  }
  const auto embedder = live.get().embedder;
  if (!embedder) fail(ErrorKind::kUnsupported, "this index holds imported vectors; volumes cannot be embedded into it");
  // Until the job owns them, the kept files go again if anything fails.
  const auto kept = make_private_folder(store, "upload");
  std::vector<VolumeSource> sources;
  try {
    for (std::size_t i = 0; i < upload.files().size(); ++i) {
      const auto& f = upload.files()[i];
      // A zip of a DICOM series is kept unpacked: the folder is what the reader reads.
      const bool zip = f.field == "file" && is_zip(f.path);
      const auto to = kept / fmt::format("{}-{}", i, zip ? "dicom" : f.path.filename().string());
      std::string name = f.client_name.empty() ? "upload" : f.client_name;
      if (zip) {
        extract_zip(f.path, name, to, options.max_upload_bytes);
        if (name.size() > 4 && name.ends_with(".zip")) name.resize(name.size() - 4);
      } else {
        std::filesystem::rename(f.path, to);
      }
      if (f.field == "labels") continue;
      VolumeSource v;
      v.path = to;
      v.read.series_uid = upload.text("series");
      v.id = upload.text("id").empty() ? volume_id_for_path(name) : upload.text("id");
      v.metadata_json = json_text(Json{{"uploaded_as", f.client_name}});
      sources.push_back(std::move(v));
    }
    if (upload.file("labels") != nullptr) {
      for (std::size_t i = 0; i < upload.files().size(); ++i) {
        if (upload.files()[i].field == "labels") {
          sources.front().labels = kept / fmt::format("{}-{}", i, upload.files()[i].path.filename().string());
        }
      }
    }
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove_all(kept, ec);
    throw;
  }
  const auto dir = live.dir();
  const std::string job = jobs.submit(
      "add",
      [dir, sources, embedder](const Jobs::Progress& progress) {
        BuildOptions build;
        build.progress = [&](const BuildProgress& p) {
          progress(static_cast<std::int64_t>(p.volumes_done), static_cast<std::int64_t>(p.volumes_total));
        };
        const auto report = add_to_index(dir, sources, *embedder, build);
        Json added = Json::array();
        for (const auto& s : sources) added.push_back(s.id);
        Json skipped = Json::array();
        for (const auto& [path, why] : report.skipped) skipped.push_back({{"path", path}, {"why", why}});
        return Json{{"added", report.volumes_added},
                    {"slices", report.slices_added},
                    {"skipped", skipped},
                    {"generation", report.generation}};
      },
      [kept] {
        std::error_code ec;
        std::filesystem::remove_all(kept, ec);
      });
  send_json(res, 202, json_text(Json{{"job", job}, {"status", fmt::format("/api/v1/jobs/{}", job)}}));
}

Server::Server(std::filesystem::path index_dir, ServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(index_dir), std::move(options))) {
  check_options(impl_->options);
  auto& http = impl_->http;
  const int threads = impl_->options.threads;
  http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
  http.set_payload_max_length(static_cast<std::size_t>(impl_->options.max_upload_bytes));
  http.set_read_timeout(impl_->options.timeout_s);
  http.set_write_timeout(impl_->options.timeout_s);
  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    request_start = Clock::now();
    request_route = "-";
    const std::string& token = impl_->options.token;
    if (token.empty() || req.path.rfind("/api/", 0) != 0) return httplib::Server::HandlerResponse::Unhandled;
    const std::string auth = req.get_header_value("Authorization");
    if (auth.rfind("Bearer ", 0) == 0 && tokens_equal(std::string_view(auth).substr(7), token)) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    res.set_header("WWW-Authenticate", "Bearer");
    send_error(res, {401, "unauthorized", "this server needs 'Authorization: Bearer <token>'"});
    return httplib::Server::HandlerResponse::Handled;
  });
  http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;  // a handler's own error
    if (res.status == 404) {
      send_error(res, {404, "not found", fmt::format("no route {} {}", req.method, req.path)});
    } else if (res.status == 413) {
      send_error(res, {413, "too large", "the request body is larger than the upload limit"});
    } else {
      send_error(res, {res.status, "bad request", fmt::format("HTTP {}", res.status)});
    }
  });
  if (const auto& web = impl_->options.web_dir; !web.empty()) {
    if (!std::filesystem::is_regular_file(web / "index.html")) {
      fail(ErrorKind::kNotFound, "{}: no index.html; the web page is built by scripts/build (npm in web/)",
           web.string());
    }
    http.set_mount_point("/", web.string());
  }
  http.set_logger([this](const httplib::Request& req, const httplib::Response& res) { impl_->log_request(req, res); });
  impl_->register_routes();
}

Server::~Server() = default;

int Server::bind() {
  auto& impl = *impl_;
  if (impl.options.port == 0) {
    impl.port = impl.http.bind_to_any_port(impl.options.host);
  } else {
    impl.port = impl.http.bind_to_port(impl.options.host, impl.options.port) ? impl.options.port : -1;
  }
  if (impl.port < 0) {
    fail(ErrorKind::kIo, "cannot listen on {}:{} (in use, or not an address of this machine)",
         impl.options.host, impl.options.port);
  }
  return impl.port;
}

// httplib's stop() does nothing until listen has begun, so a stop() that comes before (a signal
// right after start) would be lost. The flags close that gap: run() does not listen once a stop
// was asked for, and stop() repeats httplib's until run() has returned.
void Server::run() {
  impl_->run_entered = true;
  if (!impl_->stop_requested) impl_->http.listen_after_bind();
  impl_->run_finished = true;
}

void Server::stop() {
  impl_->stop_requested = true;
  while (impl_->run_entered && !impl_->run_finished) {
    impl_->http.stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

const std::vector<Route>& Server::routes() const { return impl_->routes; }

}  // namespace voxir::server
