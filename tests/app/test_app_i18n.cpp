// The App in Traditional and Simplified Chinese (wasm/i18n/*.tsv through set_translations, as the page loads
// them): messages, state().status and the panels are translated, the state's identifiers stay English.
// Read next: wasm/common/i18n.hpp, wasm/i18n/README.md.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "app/app.hpp"
#include "app_harness.hpp"
#include "common/i18n.hpp"
#include "tiny_model.hpp"

using namespace digitlab;
using namespace digitlab::app;
using namespace digitlab::app::testing;

namespace {

// The table as build_language.py ships it: the first line names the language, comment lines are dropped.
std::string shipped_table(const std::string& code) {
  std::ifstream in(std::string(DIGITLAB_SOURCE_DIR) + "/wasm/i18n/" + code + ".tsv");
  REQUIRE(in);
  std::string table = "digitlab-translations 1 " + code + "\n", line;
  while (std::getline(in, line))
    if (!line.empty() && line[0] != '#') table += line + "\n";
  return table;
}

// Shows `code` for one test and goes back to English afterwards, whatever the test did.
struct Shown {
  explicit Shown(const std::string& code) {
    std::string error;
    if (!set_translations(shipped_table(code), error)) FAIL(code << ".tsv does not parse: " << error);
  }
  ~Shown() { clear_translations(); }
};

std::vector<std::uint8_t> tiny_fashion_weights() {
  Model model;
  model.card = make_mnist_card("tiny-fashion");
  model.card.dataset = "fashion-mnist";
  model.card.class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                            "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  model.layers = {make_simple_layer(LayerKind::flatten), make_linear_layer(784, 10)};
  randomize_parameters(model, 7);
  return write_weights(model).value();
}

}  // namespace

TEST_CASE("zh-Hant: messages and status are Chinese, the state's identifiers English", "[app][ui][i18n]") {
  Shown shown("zh-Hant");
  CHECK(current_language() == Language::traditional_chinese);
  StartedApp started({entry("main", true)}, "?model=missing&panels=draw,nope&zoom=2");
  App& app = started.app;
  json state = state_of(app);
  CHECK(state["panels"] == json::array({"draw"}));
  const std::string messages = state["messages"].dump(-1, ' ', false);
  CHECK(messages.find("網址參數 model：weights/manifest.json 中沒有名為「missing」的模型") != std::string::npos);
  CHECK(messages.find("網址參數 panels：沒有面板 'nope'") != std::string::npos);
  CHECK(messages.find("未知的網址參數 'zoom'（已忽略）") != std::string::npos);
  CHECK(app.status_sentence() == "正在載入模型。");

  app.weights_arrived(0, tiny_weights(3));
  started.imgui.frame(app);
  CHECK(app.status_sentence() == "畫布是空的：請寫一個數字。");
  draw_line(app);
  started.imgui.frame(app);
  state = state_of(app);
  REQUIRE(state["prediction"].is_number());
  CHECK(state["label"] == std::to_string(state["prediction"].get<int>()));  // MNIST labels need no words
  CHECK(state["status"].get<std::string>().rfind("預測：" + state["label"].get<std::string>() + "（", 0) == 0);

  // A rejected file: the framing and what its error code means in Chinese, the loader's English detail after it.
  const std::vector<std::uint8_t> junk(300, 0x42);
  Status status = app.open_user_file("junk.dlw", junk);
  REQUIRE_FALSE(status);
  state = state_of(app);
  CHECK(state["error"] == status.error().to_string());
  const std::string last = state["messages"].back().get<std::string>();
  CHECK(last.rfind("junk.dlw 未載入：", 0) == 0);
  CHECK(last.find(status.error().to_string()) != std::string::npos);
  CHECK(last.find("目前使用的仍是 main。") != std::string::npos);
  started.imgui.frame(app);  // the banner and the panels draw the Chinese texts
}

TEST_CASE("zh-Hans: Fashion-MNIST class names are shown in Chinese, reported as the card spells them",
          "[app][ui][i18n]") {
  Shown shown("zh-Hans");
  StartedApp started({entry("fashion", true)}, "?panels=draw,prediction,model");
  App& app = started.app;
  app.weights_arrived(0, tiny_fashion_weights());
  started.imgui.frame(app);
  draw_line(app);
  started.imgui.frame(app);
  const json state = state_of(app);
  REQUIRE(state["prediction"].is_number());
  const std::string label = state["label"].get<std::string>();
  const char* const english[] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  CHECK(label == english[state["prediction"].get<int>()]);
  const std::string chinese = tr(label);
  CHECK(chinese != label);
  CHECK(state["status"].get<std::string>().rfind("预测：" + chinese + "（", 0) == 0);
}

TEST_CASE("English needs no table and is the source text", "[app][i18n]") {
  clear_translations();
  CHECK(current_language() == Language::english);
  CHECK(std::string(tr("Clear")) == "Clear");
  std::string error;
  CHECK_FALSE(set_translations("digitlab-translations 1 zh-Hant\nno tab here\n", error));
  CHECK(error.find("line 2") != std::string::npos);
  CHECK(current_language() == Language::english);
}
