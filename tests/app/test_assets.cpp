// The asset store the panels fetch their files through, ImGui-free (natively and as WebAssembly under node):
// each path fetched once, then ready or failed with the reason, a failure retried, an oversized file refused.
// Read next: wasm/common/assets.hpp, test_app.cpp (the App routing the platform's answers to it).
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "common/assets.hpp"

using namespace digitlab::app;

TEST_CASE("assets: fetched once, then ready or failed with the reason; a failure can be retried", "[app][assets]") {
  std::vector<std::string> fetched;
  AssetStore store([&](const std::string& path) { fetched.push_back(path); });
  const Asset& first = store.request("weights/runs/a.json");
  CHECK(first.state == Asset::State::pending);
  store.request("weights/runs/a.json");
  CHECK(fetched == std::vector<std::string>{"weights/runs/a.json"});
  const std::uint64_t before = store.revision();
  store.arrived("weights/runs/a.json", {1, 2, 3});
  CHECK(store.revision() > before);
  CHECK(store.request("weights/runs/a.json").state == Asset::State::ready);
  CHECK(store.request("weights/runs/a.json").bytes.size() == 3);

  store.request("data/mnist/missing.gz");
  store.failed("data/mnist/missing.gz", "HTTP 404 Not Found");
  CHECK(store.find("data/mnist/missing.gz")->state == Asset::State::failed);
  CHECK(store.find("data/mnist/missing.gz")->error == "HTTP 404 Not Found");
  store.retry("data/mnist/missing.gz");
  CHECK(store.find("data/mnist/missing.gz") == nullptr);
  store.request("data/mnist/missing.gz");
  CHECK(fetched.size() == 3);  // fetched again after retry

  store.request("big");
  store.arrived("big", std::vector<std::uint8_t>(kMaxAssetBytes + 1));
  CHECK(store.find("big")->state == Asset::State::failed);
  CHECK(store.find("big")->error.find("MiB") != std::string::npos);
  CHECK(store.find("never") == nullptr);

  // The largest asset, Fashion-MNIST's training images (26 MB gzipped), fits; forget() frees one.
  const std::string training = "data/fashion-mnist/train-images-idx3-ubyte.gz";
  store.request(training);
  store.arrived(training, std::vector<std::uint8_t>(26421856));
  CHECK(store.find(training)->state == Asset::State::ready);
  store.forget(training);
  CHECK(store.find(training) == nullptr);
}
