// API tests of `voxir serve`: a real server on an ephemeral loopback port, driven by a real HTTP
// client (cpp-httplib's), over an index of synthetic abdomen phantoms with labels.
#include "search/png.h"
#include "server.h"
#include "testutil/dicom_files.h"
#include "testutil/temp_dir.h"
#include "voxir/embed.h"
#include "voxir/error.h"
#include "voxir/explain.h"
#include "voxir/index.h"
#include "voxir/ingest.h"
#include "voxir/labels.h"
#include "voxir/search.h"
#include "voxir/synth.h"
#include "voxir/volume.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <thread>

namespace voxir::server {
namespace {

using testing::TempDir;
using Json = nlohmann::json;

// An entry of a zip made for a test: a file (data), a folder, or a symbolic link to `data`.
struct ZipEntry {
  std::string name;
  std::string data;
  unsigned type = AE_IFREG;
  std::size_t zeros = 0;  // a file of this many zero bytes instead of data (a zip bomb)
};

// Writes `entries` as a zip archive with libarchive (deflate).
void write_zip(const std::filesystem::path& zip, const std::vector<ZipEntry>& entries) {
  archive* a = archive_write_new();
  ASSERT_EQ(archive_write_set_format_zip(a), ARCHIVE_OK);
  ASSERT_EQ(archive_write_open_filename(a, zip.c_str()), ARCHIVE_OK);
  for (const auto& e : entries) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e.name.c_str());
    archive_entry_set_filetype(entry, e.type);
    archive_entry_set_perm(entry, e.type == AE_IFDIR ? 0755 : 0644);
    if (e.type == AE_IFLNK) archive_entry_set_symlink(entry, e.data.c_str());
    const auto size = e.type != AE_IFREG ? 0 : e.zeros > 0 ? e.zeros : e.data.size();
    archive_entry_set_size(entry, static_cast<la_int64_t>(size));
    ASSERT_EQ(archive_write_header(a, entry), ARCHIVE_OK) << e.name << ": " << archive_error_string(a);
    if (e.type == AE_IFREG && e.zeros > 0) {
      const std::string chunk(1 << 20, '\0');
      for (std::size_t done = 0; done < e.zeros; done += chunk.size()) {
        (void)archive_write_data(a, chunk.data(), std::min(chunk.size(), e.zeros - done));
      }
    } else if (e.type == AE_IFREG) {
      (void)archive_write_data(a, e.data.data(), e.data.size());
    }
    archive_entry_free(entry);
  }
  ASSERT_EQ(archive_write_close(a), ARCHIVE_OK);
  archive_write_free(a);
}

// Writes `ct` as a DICOM CT series into `folder` (one file per slice, LPS patient coordinates,
// HU stored + 1024) with the writer of tests/testutil, so the DICOM reader gives it back.
void write_dicom_series(const Volume& ct, const std::filesystem::path& folder, const std::string& uid) {
  std::filesystem::create_directories(folder);
  for (std::int64_t k = 0; k < ct.nz(); ++k) {
    testing::DicomSlice s;
    s.series_uid = uid;
    s.rows = static_cast<unsigned>(ct.ny());
    s.columns = static_cast<unsigned>(ct.nx());
    s.pixel_spacing = {ct.spacing()[1], ct.spacing()[0]};
    // Canonical i grows to the Right and j to Anterior: -x and -y in DICOM's LPS.
    s.orientation = std::array<double, 6>{-1, 0, 0, 0, -1, 0};
    const auto& a = ct.affine();
    s.position = std::array<double, 3>{-(a[0][3] + a[0][2] * static_cast<double>(k)),
                                       -(a[1][3] + a[1][2] * static_cast<double>(k)),
                                       a[2][3] + a[2][2] * static_cast<double>(k)};
    s.instance_number = static_cast<int>(k + 1);
    s.pixels.resize(static_cast<std::size_t>(ct.nx() * ct.ny()));
    for (std::int64_t j = 0; j < ct.ny(); ++j) {
      for (std::int64_t i = 0; i < ct.nx(); ++i) {
        s.pixels[static_cast<std::size_t>(j * ct.nx() + i)] =
            static_cast<std::int16_t>(std::lround(ct.at(i, j, k) + 1024.0f));
      }
    }
    testing::write_dicom_slice(folder / fmt::format("IM{:04d}.dcm", k), s);
  }
}

// The zip entries of every file in `folder`, under `prefix`.
std::vector<ZipEntry> zip_entries_of(const std::filesystem::path& folder, const std::string& prefix) {
  std::vector<ZipEntry> out;
  for (const auto& f : std::filesystem::directory_iterator(folder)) {
    std::ifstream in(f.path(), std::ios::binary);
    out.push_back({prefix + f.path().filename().string(), {std::istreambuf_iterator<char>(in), {}}});
  }
  return out;
}

// One dataset and index for the whole suite (building it is the slow part).
class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_ = new TempDir();
    synth::SynthOptions synth;
    synth.subjects = 4;
    synth.seed = 11;
    synth.subject.region = synth::Region::kAbdomen;
    synth.subject.slice_spacing_mm = 5;
    synth.subject.matrix = 128;
    synth::write_dataset(*data_ / "ds", synth);
    BuildOptions build;
    build.embedding_cache.clear();
    const std::vector<std::filesystem::path> paths{*data_ / "ds"};
    (void)build_index_from_paths(*data_ / "index", paths, kDefaultEmbedderSpec, build);
  }
  static void TearDownTestSuite() {
    delete data_;
    data_ = nullptr;
  }

  void SetUp() override { start({}); }
  void TearDown() override { stop(); }

  // A server over `index` (default: the suite's) on a free loopback port, and a client for it.
  void start(ServerOptions options, const std::filesystem::path& index = index_dir()) {
    stop();
    options.host = "127.0.0.1";
    options.port = 0;
    options.threads = 4;
    options.upload_dir = uploads_.path();
    options.log = [this](std::string_view line) {
      std::lock_guard guard(log_lock_);
      log_.emplace_back(line);
    };
    server_ = std::make_unique<Server>(index, options);
    port_ = server_->bind();
    thread_ = std::thread([this] { server_->run(); });
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client_->set_read_timeout(120);
  }
  void stop() {
    if (!server_) return;
    server_->stop();
    thread_.join();
    server_.reset();
  }

  static std::filesystem::path index_dir() { return *data_ / "index"; }
  static std::filesystem::path ct(int subject) {
    return *data_ / "ds" / fmt::format("s{:04d}", subject) / "ct.nii.gz";
  }

  static Json body(const httplib::Result& r) {
    EXPECT_TRUE(r) << "no answer";
    return r ? Json::parse(r->body) : Json();
  }
  // The error kind of a JSON error answer with `status`.
  static std::string error_kind(const httplib::Result& r, int status) {
    EXPECT_TRUE(r);
    if (!r) return "";
    EXPECT_EQ(r->status, status) << r->body;
    const Json j = Json::parse(r->body);
    EXPECT_TRUE(j.contains("error")) << r->body;
    EXPECT_FALSE(j["error"]["message"].get<std::string>().empty());
    return j["error"]["kind"].get<std::string>();
  }
  static std::string file_bytes(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
  }
  Json wait_job(const std::string& id) {
    for (int i = 0; i < 600; ++i) {
      const Json j = body(client_->Get("/api/v1/jobs/" + id));
      if (j["state"] == "done" || j["state"] == "failed") return j;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "job " << id << " did not finish in 60 s";
    return {};
  }
  // The access log is written after the answer is sent: wait (up to 5 s) for a line with `text`.
  bool logged(const std::string& text) {
    for (int i = 0; i < 500; ++i) {
      {
        std::lock_guard guard(log_lock_);
        for (const auto& line : log_) {
          if (line.find(text) != std::string::npos) return true;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  bool uploads_empty() const { return std::filesystem::is_empty(uploads_.path()); }

  static TempDir* data_;
  TempDir uploads_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::unique_ptr<httplib::Client> client_;
  std::mutex log_lock_;
  std::vector<std::string> log_;
};

TempDir* ServerTest::data_ = nullptr;

TEST_F(ServerTest, EveryRegisteredRouteIsInTheOpenApiDocumentAndViceVersa) {
  const Json doc = Json::parse(openapi_document());
  std::set<std::pair<std::string, std::string>> documented;
  for (const auto& [path, item] : doc["paths"].items()) {
    for (const auto& [method, op] : item.items()) {
      std::string m = method;
      for (auto& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      documented.emplace(m, path);
    }
  }
  std::set<std::pair<std::string, std::string>> registered;
  for (const auto& r : server_->routes()) registered.emplace(r.method, r.path);
  EXPECT_EQ(registered, documented);
  // And the server serves the same document.
  EXPECT_EQ(body(client_->Get("/api/v1/openapi.json")), doc);
}

TEST_F(ServerTest, HealthIndexAndPagedVolumes) {
  const Json health = body(client_->Get("/api/v1/health"));
  EXPECT_EQ(health["status"], "ok");
  const auto index = Index::open(index_dir());
  EXPECT_EQ(health["generation"], index->generation());
  const Json info = body(client_->Get("/api/v1/index"));
  EXPECT_EQ(info["volumes"], index->volumes().size());
  EXPECT_EQ(info["embedder"]["dim"], index->dim());

  std::vector<std::string> ids;
  std::string next = "0";
  while (!next.empty()) {
    const Json page = body(client_->Get("/api/v1/volumes?limit=3&offset=" + next));
    for (const auto& v : page["volumes"]) ids.push_back(v["id"]);
    EXPECT_LE(page["volumes"].size(), 3U);
    next = page["next"].is_null() ? "" : std::to_string(page["next"].get<int>());
  }
  ASSERT_EQ(ids.size(), index->volumes().size());
  for (std::size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(ids[i], index->volumes()[i].id);
  EXPECT_EQ(error_kind(client_->Get("/api/v1/volumes?limit=0"), 400), "usage error");
  EXPECT_EQ(error_kind(client_->Get("/api/v1/volumes?offset=x"), 400), "usage error");
}

TEST_F(ServerTest, VolumeMetadataLabelsAndImage) {
  const auto index = Index::open(index_dir());
  const auto& v = index->volumes()[0];
  const Json meta = body(client_->Get("/api/v1/volumes/" + v.id));
  EXPECT_EQ(meta["id"], v.id);
  EXPECT_EQ(meta["slices"], v.num_slices);
  bool liver = false;
  for (const auto& l : meta["labels"]) {
    EXPECT_LE(l["first"].get<int>(), l["last"].get<int>());
    EXPECT_LT(l["last"].get<std::int64_t>(), v.num_slices);
    liver = liver || l["class"] == "liver";
  }
  EXPECT_TRUE(liver) << "an abdomen phantom shows the liver";

  const auto image = client_->Get(meta["image"].get<std::string>());
  ASSERT_TRUE(image);
  ASSERT_EQ(image->status, 200);
  EXPECT_EQ(image->get_header_value("Content-Type"), "application/gzip");
  const auto file = uploads_ / "image.nii.gz";
  std::ofstream(file, std::ios::binary) << image->body;
  const Volume served = read_volume(file);
  const Volume original = read_volume(v.source);
  EXPECT_EQ(served.dims(), original.dims());
  ASSERT_EQ(served.hu().size(), original.hu().size());
  EXPECT_TRUE(std::equal(served.hu().begin(), served.hu().end(), original.hu().begin()))
      << "int16 CT round-trips exactly";
  std::filesystem::remove(file);

  EXPECT_EQ(error_kind(client_->Get("/api/v1/volumes/nope"), 404), "not found");
  EXPECT_EQ(error_kind(client_->Get("/api/v1/volumes/nope/image"), 404), "not found");
  EXPECT_EQ(error_kind(client_->Get("/api/v1/nothing"), 404), "not found");
}

TEST_F(ServerTest, JsonSearchByIndexedVolumeAndRegion) {
  const auto index = Index::open(index_dir());
  const std::string id = index->volumes()[1].id;
  const Json request = {{"volume", id}, {"region", "liver"}, {"k", 5}, {"top", 3}, {"exclude_self", true}};
  const Json answer = body(client_->Post("/api/v1/search", request.dump(), "application/json"));
  ASSERT_TRUE(answer.contains("results")) << answer.dump();
  EXPECT_EQ(answer["query"]["region"], "liver");
  EXPECT_EQ(answer["params"]["k"], 5);
  ASSERT_FALSE(answer["results"].empty());
  EXPECT_LE(answer["results"].size(), 3U);
  for (const auto& r : answer["results"]) {
    EXPECT_NE(r["volume"], id) << "exclude_self";
    EXPECT_EQ(r["image"], "/api/v1/volumes/" + r["volume"].get<std::string>() + "/image");
  }
  // The same query by slices without exclusion finds the volume itself first.
  const Json self = body(client_->Post("/api/v1/search", Json{{"volume", id}, {"slices", {2, 6}}}.dump(),
                                       "application/json"));
  ASSERT_FALSE(self["results"].empty());
  EXPECT_EQ(self["results"][0]["volume"], id);
  EXPECT_EQ(self["query"]["slices"], Json::array({2, 6}));
}

TEST_F(ServerTest, MultipartSearchWithAnUploadedScanAndRemovesTheUpload) {
  httplib::MultipartFormDataItems items = {
      {"file", file_bytes(ct(2)), "query.nii.gz", "application/gzip"},
      {"params", Json{{"top", 2}, {"rerank", 20}}.dump(), "", "application/json"}};
  const Json answer = body(client_->Post("/api/v1/search", items));
  ASSERT_TRUE(answer.contains("results")) << answer.dump();
  ASSERT_FALSE(answer["results"].empty());
  EXPECT_EQ(answer["results"][0]["volume"], "s0002") << "a scan finds itself first";
  EXPECT_EQ(answer["query"]["path"], "query.nii.gz");
  EXPECT_EQ(answer["params"]["rerank_n"], 20);
  EXPECT_TRUE(uploads_empty());
}

// The bytes of a "data:image/png;base64,..." URL (OpenSSL's decoder).
std::vector<std::uint8_t> png_of_data_url(const std::string& url) {
  const std::string head = "data:image/png;base64,";
  EXPECT_EQ(url.rfind(head, 0), 0U) << url.substr(0, 40);
  const std::string b64 = url.substr(std::min(url.size(), head.size()));
  std::vector<std::uint8_t> out(b64.size() / 4 * 3 + 3);
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(b64.data()),
                                static_cast<int>(b64.size()));
  EXPECT_GE(n, 0) << "not base64";
  // EVP_DecodeBlock counts the bytes of '=' padding as zeros.
  std::size_t size = static_cast<std::size_t>(std::max(n, 0));
  for (std::size_t i = b64.size(); i > 0 && b64[i - 1] == '='; --i) --size;
  out.resize(size);
  return out;
}

TEST_F(ServerTest, SearchWithExplainCarriesTheLibrarysAlignmentAndPictures) {
  const auto index = Index::open(index_dir());
  const std::string id = index->volumes()[1].id;
  const Json request = {{"volume", id}, {"slices", {2, 8}}, {"top", 2}, {"explain", true}, {"explain_pairs", 3}};
  const Json answer = body(client_->Post("/api/v1/search", request.dump(), "application/json"));
  ASSERT_TRUE(answer.contains("results")) << answer.dump();
  ASSERT_FALSE(answer["results"].empty());

  // The library's own explanation of the same query.
  Query q;
  q.indexed_id = id;
  q.slices = std::array<std::int64_t, 2>{2, 8};
  q.params.top = 2;
  q.params.explain = true;
  const SearchAnswer library = search(*index, q);
  ExplainOptions options;
  options.pairs = 3;
  const auto explained = explain(*index, q, library, options);
  ASSERT_EQ(answer["results"].size(), explained.size());
  for (std::size_t r = 0; r < explained.size(); ++r) {
    const Json& e = answer["results"][r]["explanation"];
    SCOPED_TRACE(answer["results"][r]["volume"].get<std::string>());
    const Json alignment = Json::parse(explained[r].alignment_json);
    EXPECT_EQ(e["alignment"], alignment);
    const RgbImage heat = decode_png(png_of_data_url(e["heatmap"].get<std::string>()), "heatmap");
    EXPECT_EQ(heat.width, alignment["columns"].get<int>() * alignment["cell"].get<int>());
    EXPECT_EQ(heat.height, static_cast<int>(alignment["rows"].size()) * alignment["cell"].get<int>());
    ASSERT_TRUE(e["strip"].is_string()) << "the indexed query volume is read for the strip";
    EXPECT_EQ(e["alignment"]["strip"].size(), 3U);
    const RgbImage strip = decode_png(png_of_data_url(e["strip"].get<std::string>()), "strip");
    EXPECT_EQ(strip.height % 3, 0) << "three rows of pairs";
    EXPECT_GT(strip.width, 0);
  }

  // An uploaded query: its strips show the upload, which is gone afterwards.
  httplib::MultipartFormDataItems items = {
      {"file", file_bytes(ct(2)), "query.nii.gz", "application/gzip"},
      {"params", Json{{"top", 1}, {"explain", true}}.dump(), "", "application/json"}};
  const Json uploaded = body(client_->Post("/api/v1/search", items));
  ASSERT_EQ(uploaded["results"].size(), 1U) << uploaded.dump();
  const Json& e = uploaded["results"][0]["explanation"];
  ASSERT_TRUE(e["strip"].is_string()) << e["alignment"].dump();
  EXPECT_GT(decode_png(png_of_data_url(e["strip"].get<std::string>()), "strip").width, 0);
  EXPECT_TRUE(uploads_empty());

  // Without "explain" no explanation; explain without re-ranking, or with 0 pairs, is refused.
  const Json plain = body(client_->Post("/api/v1/search", Json{{"volume", id}, {"top", 1}}.dump(), "application/json"));
  EXPECT_FALSE(plain["results"][0].contains("explanation"));
  EXPECT_EQ(error_kind(client_->Post("/api/v1/search", Json{{"volume", id}, {"explain", true}, {"rerank", false}}.dump(),
                                     "application/json"),
                       400),
            "usage error");
  EXPECT_EQ(error_kind(client_->Post("/api/v1/search", Json{{"volume", id}, {"explain", true}, {"explain_pairs", 0}}.dump(),
                                     "application/json"),
                       400),
            "usage error");
}

TEST_F(ServerTest, SearchTimeLimitGives504AndCannotBeRaisedByARequest) {
  ServerOptions options;
  options.search_time_limit_s = 30;
  start(options);
  const auto post = [&](const Json& j) { return client_->Post("/api/v1/search", j.dump(), "application/json"); };
  // 1 ns has passed before the search's first check of its deadline.
  const auto r = post({{"volume", "s0001"}, {"time_limit_s", 1e-9}});
  EXPECT_EQ(error_kind(r, 504), "timeout");
  EXPECT_NE(r->body.find("time limit"), std::string::npos) << r->body;
  EXPECT_TRUE(logged("POST /api/v1/search 504"));
  // Within the server's limit the same search runs; above it, or not positive, is refused.
  const auto ok = post({{"volume", "s0001"}, {"time_limit_s", 30}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  EXPECT_EQ(error_kind(post({{"volume", "s0001"}, {"time_limit_s", 31}}), 400), "usage error");
  EXPECT_EQ(error_kind(post({{"volume", "s0001"}, {"time_limit_s", 0}}), 400), "usage error");
  EXPECT_EQ(error_kind(post({{"volume", "s0001"}, {"time_limit_s", "5"}}), 400), "usage error");
  ServerOptions bad;
  bad.search_time_limit_s = 0;
  EXPECT_THROW(check_options(bad), Error);
}

TEST_F(ServerTest, BadRequestsGetClearErrorsAndLeaveNoFiles) {
  // Wrong content type, malformed JSON, unknown parameter, wrong type, no source.
  EXPECT_EQ(error_kind(client_->Post("/api/v1/search", "x", "text/plain"), 415), "unsupported media type");
  EXPECT_EQ(error_kind(client_->Post("/api/v1/search", "{", "application/json"), 400), "usage error");
  EXPECT_EQ(error_kind(client_->Post("/api/v1/search", R"({"volume":"s0001","kk":3})", "application/json"), 400),
            "usage error");
  EXPECT_EQ(error_kind(client_->Post("/api/v1/search", R"({"volume":"s0001","k":"3"})", "application/json"), 400),
            "usage error");
  EXPECT_EQ(error_kind(client_->Post("/api/v1/search", R"({"k":3})", "application/json"), 400), "usage error");
  EXPECT_EQ(error_kind(client_->Post("/api/v1/search", R"({"volume":"nope"})", "application/json"), 404),
            "not found");
  EXPECT_EQ(error_kind(client_->Post("/api/v1/search", R"({"volume":"s0001","region":"livr"})", "application/json"),
                       404),
            "not found");
  // A multipart body that is not one, an unexpected part, an upload that is not a volume.
  EXPECT_EQ(error_kind(client_->Post("/api/v1/search", "garbage", "multipart/form-data; boundary=xyz"), 400),
            "usage error");
  httplib::MultipartFormDataItems extra = {{"file", "abc", "a.nii.gz", ""}, {"secret", "1", "", ""}};
  EXPECT_EQ(error_kind(client_->Post("/api/v1/search", extra), 400), "usage error");
  httplib::MultipartFormDataItems junk = {{"file", std::string(4000, 'x'), "junk.nii.gz", ""}};
  const auto r = client_->Post("/api/v1/search", junk);
  EXPECT_EQ(error_kind(r, 422), "invalid input");
  EXPECT_NE(r->body.find("junk.nii.gz"), std::string::npos) << "names the file as uploaded: " << r->body;
  EXPECT_EQ(r->body.find(uploads_.path().string()), std::string::npos) << "no temp paths: " << r->body;
  // A file name that is not UTF-8 (Latin-1 "café"): named with U+FFFD, not a failed answer.
  httplib::MultipartFormDataItems latin1 = {{"file", std::string(4000, 'x'), "caf\xe9.nii.gz", ""}};
  const auto named = client_->Post("/api/v1/search", latin1);
  EXPECT_EQ(error_kind(named, 422), "invalid input");
  EXPECT_NE(named->body.find("caf\xef\xbf\xbd.nii.gz"), std::string::npos) << named->body;
  EXPECT_TRUE(uploads_empty());
}

TEST_F(ServerTest, OversizedUploadsAreRefusedWhileStreaming) {
  ServerOptions small;
  small.max_upload_bytes = 64 << 10;
  start(small);
  httplib::MultipartFormDataItems big = {{"file", std::string(256 << 10, 'x'), "big.nii.gz", ""}};
  EXPECT_EQ(client_->Post("/api/v1/search", big)->status, 413);
  // Chunked, so no Content-Length tells the size up front.
  std::size_t sent = 0;
  const auto r = client_->Post(
      "/api/v1/search",
      [&](std::size_t, httplib::DataSink& sink) {
        if (sent == 0) {
          const std::string head = "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"c.nii.gz\"\r\n\r\n";
          sink.write(head.data(), head.size());
        }
        const std::string chunk(16 << 10, 'y');
        if (sent < (std::size_t{64} << 20)) {
          sent += chunk.size();
          return sink.write(chunk.data(), chunk.size());
        }
        sink.done();
        return true;
      },
      "multipart/form-data; boundary=b");
  // The server answers 413 and closes the connection; the client sees that answer, or a failed
  // write when it was still sending.
  if (r) {
    EXPECT_EQ(r->status, 413) << r->body;
  } else {
    EXPECT_TRUE(r.error() == httplib::Error::Write || r.error() == httplib::Error::Canceled)
        << httplib::to_string(r.error());
  }
  EXPECT_TRUE(logged("POST /api/v1/search 413"));
  // Socket buffers take a few MiB before the refusal reaches the client; not 64.
  EXPECT_LT(sent, std::size_t{16} << 20) << "refused before the whole body arrived";
  EXPECT_TRUE(uploads_empty());
}

TEST_F(ServerTest, TokenIsRequiredWhenConfiguredAndForOtherHosts) {
  ServerOptions options;
  options.host = "0.0.0.0";
  EXPECT_THROW(check_options(options), Error);
  options.token = "0123456789abcdef-token";
  EXPECT_NO_THROW(check_options(options));
  EXPECT_TRUE(is_loopback("127.0.0.1"));
  EXPECT_TRUE(is_loopback("::1"));
  EXPECT_FALSE(is_loopback("10.0.0.1"));

  ServerOptions secured;
  secured.token = "0123456789abcdef-token";
  start(secured);
  EXPECT_EQ(error_kind(client_->Get("/api/v1/health"), 401), "unauthorized");
  EXPECT_EQ(error_kind(client_->Get("/api/v1/health", {{"Authorization", "Bearer wrong"}}), 401), "unauthorized");
  EXPECT_EQ(error_kind(client_->Get("/api/v1/health", {{"Authorization", "Bearer 0123456789abcdef-toke"}}), 401),
            "unauthorized");
  const auto ok = client_->Get("/api/v1/health", {{"Authorization", "Bearer 0123456789abcdef-token"}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  // The access log names routes and statuses, never the token.
  EXPECT_TRUE(logged("GET /api/v1/health 200"));
  EXPECT_TRUE(logged("GET /api/v1/health 401"));
  std::lock_guard guard(log_lock_);
  for (const auto& line : log_) EXPECT_EQ(line.find("0123456789abcdef"), std::string::npos) << line;
}

TEST_F(ServerTest, AddAndRemoveRunAsJobsWhileSearchesGoOn) {
  // A copy of the index: this test changes it.
  TempDir copy;
  std::filesystem::copy(index_dir(), copy / "index", std::filesystem::copy_options::recursive);
  start({}, copy / "index");
  const int generation = body(client_->Get("/api/v1/health"))["generation"];

  // Searches run on other threads for the whole add.
  std::atomic<bool> done{false};
  std::atomic<int> searches{0}, failures{0};
  std::thread searcher([&] {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(120);
    while (!done) {
      const auto r = c.Post("/api/v1/search", Json{{"volume", "s0001"}, {"top", 2}}.dump(), "application/json");
      if (!r || r->status != 200) ++failures;
      ++searches;
    }
  });
  httplib::MultipartFormDataItems items = {{"file", file_bytes(ct(3)), "extra.nii.gz", ""},
                                           {"id", "extra-1", "", ""}};
  const Json accepted = body(client_->Post("/api/v1/volumes", items));
  ASSERT_TRUE(accepted.contains("job")) << accepted.dump();
  const Json job = wait_job(accepted["job"]);
  EXPECT_EQ(job["state"], "done") << job.dump();
  EXPECT_EQ(job["result"]["added"], 1);
  done = true;
  searcher.join();
  EXPECT_GT(searches.load(), 0);
  EXPECT_EQ(failures.load(), 0);

  // The new generation is served without a restart.
  EXPECT_GT(body(client_->Get("/api/v1/health"))["generation"].get<int>(), generation);
  const Json added = body(client_->Get("/api/v1/volumes/extra-1"));
  EXPECT_EQ(added["id"], "extra-1");
  const auto image = client_->Get("/api/v1/volumes/extra-1/image");
  ASSERT_TRUE(image);
  EXPECT_EQ(image->status, 200);

  const Json removal = body(client_->Delete("/api/v1/volumes/extra-1"));
  const Json removed = wait_job(removal["job"]);
  EXPECT_EQ(removed["state"], "done") << removed.dump();
  EXPECT_EQ(error_kind(client_->Get("/api/v1/volumes/extra-1"), 404), "not found");
  EXPECT_EQ(error_kind(client_->Delete("/api/v1/volumes/extra-1"), 404), "not found");
  EXPECT_EQ(error_kind(client_->Get("/api/v1/jobs/job-999"), 404), "not found");

  // Several volumes in one request, each kept in its own file.
  httplib::MultipartFormDataItems two = {{"file", file_bytes(ct(2)), "two-a.nii.gz", ""},
                                         {"file", file_bytes(ct(4)), "two-b.nii.gz", ""}};
  const Json both = wait_job(body(client_->Post("/api/v1/volumes", two))["job"]);
  EXPECT_EQ(both["state"], "done") << both.dump();
  EXPECT_EQ(both["result"]["added"], 2);
  const Json a = body(client_->Get("/api/v1/volumes/two-a"));
  const Json b = body(client_->Get("/api/v1/volumes/two-b"));
  EXPECT_NE(a["path"], b["path"]);
  EXPECT_EQ(a["slices"], Index::open(index_dir())->find("s0002")->num_slices);
  EXPECT_EQ(b["slices"], Index::open(index_dir())->find("s0004")->num_slices);
  httplib::MultipartFormDataItems two_ids = {{"file", "x", "c.nii.gz", ""}, {"file", "y", "d.nii.gz", ""},
                                             {"id", "same", "", ""}};
  EXPECT_EQ(error_kind(client_->Post("/api/v1/volumes", two_ids), 400), "usage error");

  // A failing add reports why and keeps nothing of the upload.
  httplib::MultipartFormDataItems junk = {{"file", std::string(1000, 'x'), "junk.nii.gz", ""}};
  const Json failed = wait_job(body(client_->Post("/api/v1/volumes", junk))["job"]);
  EXPECT_EQ(failed["state"], "failed") << failed.dump();
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(copy / "index" / "uploads"), {}), 1)
      << "only the kept upload of two-a and two-b";
  EXPECT_TRUE(uploads_empty());
  stop();  // before the copy it serves goes
}

// The label map of a labelled volume: the image's grid, each voxel the value of the class whose
// mask holds it; the volume's metadata links it and lists the values.
TEST_F(ServerTest, LabelMapOfALabelledVolumeIsOnTheImageGrid) {
  const auto index = Index::open(index_dir());
  const auto& v = index->volumes()[1];
  ASSERT_FALSE(v.labels_source.empty()) << "the suite's dataset has segmentations";
  const Json meta = body(client_->Get("/api/v1/volumes/" + v.id));
  ASSERT_EQ(meta["label_map"], "/api/v1/volumes/" + v.id + "/labels") << meta.dump();
  std::map<int, std::string> table;
  for (const auto& e : meta["label_values"]) table[e["value"].get<int>()] = e["class"].get<std::string>();
  EXPECT_EQ(table.size(), meta["labels"].size());
  const ClassCatalog& catalog = ClassCatalog::builtin();
  ASSERT_TRUE(table.count(label_map_value(catalog.at("liver").index)) == 1) << meta["label_values"].dump();

  const auto answer = client_->Get(meta["label_map"].get<std::string>());
  ASSERT_TRUE(answer);
  ASSERT_EQ(answer->status, 200) << answer->body;
  EXPECT_EQ(answer->get_header_value("Content-Type"), "application/gzip");
  std::ofstream(uploads_ / "labels.nii.gz", std::ios::binary) << answer->body;
  const auto image = client_->Get(meta["image"].get<std::string>());
  ASSERT_TRUE(image);
  std::ofstream(uploads_ / "image.nii.gz", std::ios::binary) << image->body;
  const Volume map = read_volume(uploads_ / "labels.nii.gz");
  const Volume ct = read_volume(uploads_ / "image.nii.gz");
  std::filesystem::remove(uploads_ / "labels.nii.gz");
  std::filesystem::remove(uploads_ / "image.nii.gz");
  ASSERT_EQ(map.dims(), ct.dims());
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 4; ++c) EXPECT_NEAR(map.affine()[r][c], ct.affine()[r][c], 1e-4) << r << "," << c;
  }
  // Every value in the map is in the table.
  std::set<int> seen;
  for (const float x : map.hu()) seen.insert(static_cast<int>(x));
  for (const int x : seen) EXPECT_TRUE(x == 0 || table.count(x) == 1) << "value " << x;
  // At a few voxels of each mask, the map holds that mask's class.
  int checked = 0;
  for (const auto& file : std::filesystem::directory_iterator(v.labels_source)) {
    std::string name = file.path().filename().string();
    name = name.substr(0, name.find('.'));
    const ClassInfo* c = catalog.find(name);
    if (c == nullptr) continue;
    const Volume mask = read_volume(file.path());
    ASSERT_EQ(mask.dims(), map.dims()) << name;
    std::vector<std::size_t> on;
    for (std::size_t i = 0; i < mask.hu().size(); ++i) {
      if (mask.hu()[i] > 0.5f) on.push_back(i);
    }
    if (on.empty()) continue;
    for (const std::size_t i : {on.front(), on[on.size() / 2], on.back()}) {
      EXPECT_EQ(static_cast<int>(map.hu()[i]), label_map_value(c->index)) << name << " at voxel " << i;
      ++checked;
    }
  }
  EXPECT_GE(checked, 6) << "at least two classes checked";
  EXPECT_EQ(map.hu()[0], 0.0f) << "the corner is background";
  EXPECT_EQ(error_kind(client_->Get("/api/v1/volumes/nope/labels"), 404), "not found");
  EXPECT_TRUE(uploads_empty());
}

// Volumes without labels, and volumes whose label files are gone: 404 saying which, and no link.
TEST_F(ServerTest, LabelMapIs404WithoutLabelsOrWhenTheFilesAreGone) {
  TempDir tmp;
  std::filesystem::copy(*data_ / "ds" / "s0001", tmp / "s1", std::filesystem::copy_options::recursive);
  std::filesystem::create_directories(tmp / "loose");
  std::filesystem::copy_file(ct(2), tmp / "loose" / "plain.nii.gz");
  BuildOptions build;
  build.embedding_cache.clear();
  build.index = IndexSpec::parse("faiss:Flat");
  const std::vector<std::filesystem::path> paths{tmp / "s1" / "ct.nii.gz", tmp / "loose" / "plain.nii.gz"};
  (void)build_index_from_paths(tmp / "index", paths, kDefaultEmbedderSpec, build);
  start({}, tmp / "index");

  ASSERT_EQ(body(client_->Get("/api/v1/volumes/s1"))["label_map"], "/api/v1/volumes/s1/labels");
  const Json plain = body(client_->Get("/api/v1/volumes/plain"));
  EXPECT_TRUE(plain["label_map"].is_null()) << plain.dump();
  EXPECT_TRUE(plain["label_values"].empty());
  auto r = client_->Get("/api/v1/volumes/plain/labels");
  EXPECT_EQ(error_kind(r, 404), "not found");
  EXPECT_NE(r->body.find("has no labels"), std::string::npos) << r->body;

  ASSERT_EQ(client_->Get("/api/v1/volumes/s1/labels")->status, 200);
  std::filesystem::remove_all(tmp / "s1" / "segmentations");
  EXPECT_TRUE(body(client_->Get("/api/v1/volumes/s1"))["label_map"].is_null());
  r = client_->Get("/api/v1/volumes/s1/labels");
  EXPECT_EQ(error_kind(r, 404), "not found");
  EXPECT_NE(r->body.find("which is gone"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("segmentations"), std::string::npos) << r->body;
  stop();
}

// A zip of a DICOM series as the query: the same answer as the same series read from disk, nested
// folders allowed; several series need the `series` part; nothing stays behind.
TEST_F(ServerTest, ZipOfADicomSeriesSearchesLikeTheFolder) {
  TempDir tmp;
  const Volume source = read_volume(ct(2));
  write_dicom_series(source, tmp / "series", "1.2.826.0.1.3680043.9.7777.41");
  write_zip(tmp / "one.zip", zip_entries_of(tmp / "series", "study/series/"));
  const Json params = {{"slices", {3, 9}}, {"top", 3}, {"rerank", 10}};

  const auto index = Index::open(index_dir());
  Query query;
  query.path = tmp / "series";
  query.slices = std::array<std::int64_t, 2>{3, 9};
  query.params.top = 3;
  query.params.rerank = true;
  query.params.rerank_n = 10;
  const SearchAnswer expected = voxir::search(*index, query);
  ASSERT_FALSE(expected.results.empty());

  httplib::MultipartFormDataItems items = {{"file", file_bytes(tmp / "one.zip"), "series.zip", "application/zip"},
                                           {"params", params.dump(), "", ""}};
  const Json answer = body(client_->Post("/api/v1/search", items));
  ASSERT_TRUE(answer.contains("results")) << answer.dump();
  ASSERT_EQ(answer["results"].size(), expected.results.size());
  for (std::size_t i = 0; i < expected.results.size(); ++i) {
    EXPECT_EQ(answer["results"][i]["volume"], expected.results[i].volume) << i;
    EXPECT_NEAR(answer["results"][i]["score"].get<double>(), expected.results[i].score, 1e-5) << i;
  }
  EXPECT_EQ(answer["results"][0]["volume"], "s0002") << "the series is s0002's CT";
  EXPECT_TRUE(uploads_empty());

  // Two series (the second in another folder): the reader's "several series" error, or the
  // `series` part picks one.
  auto two = zip_entries_of(tmp / "series", "a/");
  write_dicom_series(source, tmp / "other", "1.2.826.0.1.3680043.9.7777.42");
  for (auto& e : zip_entries_of(tmp / "other", "b/")) two.push_back(std::move(e));
  write_zip(tmp / "two.zip", two);
  httplib::MultipartFormDataItems both = {{"file", file_bytes(tmp / "two.zip"), "two.zip", ""},
                                          {"params", params.dump(), "", ""}};
  const auto several = client_->Post("/api/v1/search", both);
  EXPECT_EQ(error_kind(several, 400), "usage error");
  EXPECT_NE(several->body.find("7777.42"), std::string::npos) << "lists the series: " << several->body;
  EXPECT_EQ(several->body.find(uploads_.path().string()), std::string::npos) << several->body;
  both.push_back({"series", "1.2.826.0.1.3680043.9.7777.41", "", ""});
  const Json chosen = body(client_->Post("/api/v1/search", both));
  ASSERT_TRUE(chosen.contains("results")) << chosen.dump();
  EXPECT_EQ(chosen["results"][0]["volume"], expected.results[0].volume);
  EXPECT_TRUE(uploads_empty());
}

// Zips that must be refused: a clear error naming the entry, no files left behind.
TEST_F(ServerTest, BadZipsAreRefusedAndLeaveNoFiles) {
  ServerOptions small;
  small.max_upload_bytes = 4 << 20;
  start(small);
  TempDir tmp;
  std::string dicom;
  {
    testing::DicomSlice s;
    testing::write_dicom_slice(tmp / "one.dcm", s);
    dicom = file_bytes(tmp / "one.dcm");
  }
  write_zip(tmp / "good.zip", {{"a.dcm", dicom}});
  const std::string good = file_bytes(tmp / "good.zip");
  struct Case {
    std::string what;
    std::vector<ZipEntry> entries;  // written as a zip, unless raw is set
    std::string raw;
    int status;
    std::string phrase;  // in the message
  };
  const std::vector<Case> cases = {
      {"zip bomb", {{"a.dcm", dicom}, {"big.dcm", "", AE_IFREG, std::size_t{64} << 20}}, "", 413, "upload limit"},
      {"traversal", {{"a.dcm", dicom}, {"../evil.dcm", dicom}}, "", 422, "'../evil.dcm'"},
      {"nested traversal", {{"x/../../evil.dcm", dicom}}, "", 422, "'x/../../evil.dcm'"},
      {"absolute path", {{"/tmp/evil.dcm", dicom}}, "", 422, "'/tmp/evil.dcm'"},
      {"symbolic link", {{"a.dcm", dicom}, {"link.dcm", "/etc/passwd", AE_IFLNK}}, "", 422, "symbolic link"},
      {"no DICOM files", {{"notes/", "", AE_IFDIR}, {"notes/readme.txt", "hello"}, {"b.txt", "x"}}, "", 422,
       "no DICOM files"},
      {"corrupt zip", {}, "PK\x03\x04" + std::string(3000, 'z'), 422, "zip"},
      {"truncated zip", {}, good.substr(0, good.size() / 2), 422, "zip"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const auto zip = tmp / "case.zip";
    if (c.raw.empty()) {
      write_zip(zip, c.entries);
    } else {
      std::ofstream(zip, std::ios::binary) << c.raw;
    }
    EXPECT_LT(std::filesystem::file_size(zip), std::uintmax_t{1} << 20) << "the zip itself is small";
    httplib::MultipartFormDataItems items = {{"file", file_bytes(zip), "upload.zip", ""}};
    const auto r = client_->Post("/api/v1/search", items);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, c.status) << r->body;
    EXPECT_NE(r->body.find(c.phrase), std::string::npos) << r->body;
    EXPECT_NE(r->body.find("upload.zip"), std::string::npos) << "names the upload: " << r->body;
    EXPECT_EQ(r->body.find(uploads_.path().string()), std::string::npos) << "no temp paths: " << r->body;
    EXPECT_TRUE(uploads_empty());
  }
  // Adding a bad zip fails at once and keeps nothing in the index folder.
  write_zip(tmp / "evil.zip", {{"../evil.dcm", dicom}});
  httplib::MultipartFormDataItems add = {{"file", file_bytes(tmp / "evil.zip"), "evil.zip", ""}};
  EXPECT_EQ(error_kind(client_->Post("/api/v1/volumes", add), 422), "invalid input");
  EXPECT_TRUE(std::filesystem::is_empty(index_dir() / "uploads"));
  EXPECT_TRUE(uploads_empty());
}

// POST /volumes with a zip: the series is kept unpacked, indexed, served, and removed with it.
TEST_F(ServerTest, AddingAZipOfADicomSeries) {
  TempDir copy;
  std::filesystem::copy(index_dir(), copy / "index", std::filesystem::copy_options::recursive);
  start({}, copy / "index");
  TempDir tmp;
  write_dicom_series(read_volume(ct(3)), tmp / "series", "1.2.826.0.1.3680043.9.7777.43");
  write_zip(tmp / "s3.zip", zip_entries_of(tmp / "series", "dicom/"));
  httplib::MultipartFormDataItems items = {{"file", file_bytes(tmp / "s3.zip"), "patient-3.zip", ""}};
  const Json job = wait_job(body(client_->Post("/api/v1/volumes", items))["job"]);
  EXPECT_EQ(job["state"], "done") << job.dump();
  const Json added = body(client_->Get("/api/v1/volumes/patient-3"));
  EXPECT_EQ(added["slices"], Index::open(index_dir())->find("s0003")->num_slices) << added.dump();
  EXPECT_TRUE(added["label_map"].is_null());
  const auto r = client_->Get("/api/v1/volumes/patient-3/labels");
  EXPECT_EQ(error_kind(r, 404), "not found");
  EXPECT_NE(r->body.find("has no labels"), std::string::npos) << r->body;
  EXPECT_EQ(client_->Get("/api/v1/volumes/patient-3/image")->status, 200);
  const Json removed = wait_job(body(client_->Delete("/api/v1/volumes/patient-3"))["job"]);
  EXPECT_EQ(removed["state"], "done") << removed.dump();
  EXPECT_TRUE(std::filesystem::is_empty(copy / "index" / "uploads")) << "the kept series goes with it";
  EXPECT_TRUE(uploads_empty());
  stop();
}

}  // namespace
}  // namespace voxir::server
