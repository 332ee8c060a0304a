// API tests of `voxir serve`: a real server on an ephemeral loopback port, driven by a real HTTP
// client (cpp-httplib's), over an index of synthetic abdomen phantoms with labels.
#include "search/png.h"
#include "server.h"
#include "testutil/temp_dir.h"
#include "voxir/embed.h"
#include "voxir/error.h"
#include "voxir/explain.h"
#include "voxir/index.h"
#include "voxir/ingest.h"
#include "voxir/synth.h"
#include "voxir/volume.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <set>
#include <thread>

namespace voxir::server {
namespace {

using testing::TempDir;
using Json = nlohmann::json;

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

}  // namespace
}  // namespace voxir::server
