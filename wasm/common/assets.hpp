// Files the teaching panels read besides the weights: run records and sweeps (weights/runs/), the test
// subsets (data/<dataset>/test-subset-*.gz). A panel asks for a path relative to the site's root; the
// first request starts one fetch through the platform, later ones see it pending, ready or failed.
// Nothing is fetched twice, a failure is kept with its reason (the panel shows it), and retry() forgets
// it. No ImGui or platform code here. Read next: teaching/teaching_panel.hpp.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace digitlab::app {

// The site's copy of the test subsets (scripts/make-test-subset.mjs writes them, the build copies them).
inline constexpr int kTestSubsetSize = 1000;  // the first 1,000 images of each test set
std::string test_subset_images_path(const std::string& dataset);  // "data/mnist/test-subset-images-idx3-ubyte.gz"
std::string test_subset_labels_path(const std::string& dataset);

// The largest asset a panel may fetch (a browser tab has little memory to spare): the largest is the full
// Fashion-MNIST training images the train panel fetches, 26 MB gzipped (47 MB parsed, the bytes then dropped).
// One limit for every path keeps the demo's code as it was (it fetches none of these).
inline constexpr std::uint64_t kMaxAssetBytes = 48ull << 20;

struct Asset {
  enum class State { pending, ready, failed };
  State state = State::pending;
  std::vector<std::uint8_t> bytes;  // when ready
  std::string error;                // when failed: one sentence, "HTTP 404 ..." or the reader's error
};

class AssetStore {
 public:
  // Called with each path the first time it is requested; the platform answers with arrived()/failed().
  explicit AssetStore(std::function<void(const std::string& path)> fetch) : fetch_(std::move(fetch)) {}

  // The asset at path, fetching it on first use. The reference stays valid until retry(path).
  const Asset& request(const std::string& path);
  const Asset* find(const std::string& path) const;  // null when never requested
  void arrived(const std::string& path, std::vector<std::uint8_t> bytes);
  void failed(const std::string& path, std::string why);
  void retry(const std::string& path);  // forget a failed asset; the next request fetches it again
  // Forget an asset in any state, its bytes freed (a panel that parsed a training set keeps the parsed
  // copy only); a later request fetches it again. References to it become invalid.
  void forget(const std::string& path) { assets_.erase(path); }
  // Bumps whenever an asset arrives or fails: panels redo derived work when it moved.
  std::uint64_t revision() const { return revision_; }

 private:
  std::function<void(const std::string&)> fetch_;
  std::map<std::string, Asset> assets_;
  std::uint64_t revision_ = 0;
};

}  // namespace digitlab::app
