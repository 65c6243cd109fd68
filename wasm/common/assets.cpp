// AssetStore (assets.hpp). Read next: teaching/teaching_panel.hpp.
#include "common/assets.hpp"

#include "common/i18n.hpp"
#include "digitlab/text.hpp"

namespace digitlab::app {

std::string test_subset_images_path(const std::string& dataset) {
  return "data/" + dataset + "/test-subset-images-idx3-ubyte.gz";
}
std::string test_subset_labels_path(const std::string& dataset) {
  return "data/" + dataset + "/test-subset-labels-idx1-ubyte.gz";
}

const Asset& AssetStore::request(const std::string& path) {
  auto found = assets_.find(path);
  if (found != assets_.end()) return found->second;
  Asset& asset = assets_[path];
  if (fetch_) fetch_(path);  // may answer at once (the desktop reads files synchronously)
  return asset;
}

const Asset* AssetStore::find(const std::string& path) const {
  auto found = assets_.find(path);
  return found == assets_.end() ? nullptr : &found->second;
}

void AssetStore::arrived(const std::string& path, std::vector<std::uint8_t> bytes) {
  Asset& asset = assets_[path];
  if (bytes.size() > kMaxAssetBytes) {
    failed(path, format_text(tr("%s is %zu bytes, more than the %zu MiB a panel may load"), path.c_str(), bytes.size(),
                             std::size_t(kMaxAssetBytes >> 20)));
    return;
  }
  asset.state = Asset::State::ready;
  asset.bytes = std::move(bytes);
  asset.error.clear();
  ++revision_;
}

void AssetStore::failed(const std::string& path, std::string why) {
  Asset& asset = assets_[path];
  asset.state = Asset::State::failed;
  asset.bytes.clear();
  asset.error = std::move(why);
  ++revision_;
}

void AssetStore::retry(const std::string& path) {
  auto found = assets_.find(path);
  if (found != assets_.end() && found->second.state == Asset::State::failed) assets_.erase(found);
}

}  // namespace digitlab::app
