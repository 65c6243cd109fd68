// URL parameters: every documented parameter parses, every bad one becomes one clear message and the
// default is kept. Read next: wasm/common/url_options.hpp, docs/embedding.md.
#include <catch2/catch.hpp>

#include "test_text.hpp"
#include "common/url_options.hpp"

using namespace digitlab::app;

namespace {

using testing::joined;

std::vector<std::string> panel_names(const AppOptions& options) {
  std::vector<std::string> names;
  for (PanelId id : options.panels) names.push_back(panel_info(id).name);
  return names;
}

std::vector<PanelId> default_panels() {
  return {PanelId::draw, PanelId::prediction, PanelId::input, PanelId::model};
}

}  // namespace

TEST_CASE("every teaching panel can be shown alone", "[app][url]") {
  for (const PanelInfo& panel : panel_list()) {
    const ParsedOptions parsed = parse_url_options(std::string("panels=") + panel.name);
    INFO(panel.name << ": " << joined(parsed.problems));
    CHECK(parsed.problems.empty());
    CHECK(parsed.options.panels == std::vector<PanelId>{panel.id});
  }
}

TEST_CASE("no parameters: the demo's panels, default model, no embed", "[app][url]") {
  for (const char* query : {"", "?", "?&&"}) {
    const ParsedOptions parsed = parse_url_options(query);
    INFO(joined(parsed.problems));
    CHECK(parsed.problems.empty());
    CHECK(parsed.options.model.empty());
    CHECK(parsed.options.panels == default_panels());
    CHECK_FALSE(parsed.options.embed);
    CHECK(parsed.options.stroke_width == Approx(0.07f));
    CHECK(parsed.options.theme == Theme::light);
  }
}

TEST_CASE("the documented example parses", "[app][url]") {
  const ParsedOptions parsed = parse_url_options("?model=mnist-cnn&panels=draw&embed=1");
  INFO(joined(parsed.problems));
  CHECK(parsed.problems.empty());
  CHECK(parsed.options.model == "mnist-cnn");
  CHECK(panel_names(parsed.options) == std::vector<std::string>{"draw"});
  CHECK(parsed.options.embed);
}

TEST_CASE("every parameter, percent-encoded and in any order", "[app][url]") {
  const ParsedOptions parsed =
      parse_url_options("theme=dark&stroke=12.5&panels=model%2Cprediction,+draw&embed=0&model=fashion%2Dcnn");
  INFO(joined(parsed.problems));
  CHECK(parsed.problems.empty());
  CHECK(parsed.options.model == "fashion-cnn");
  CHECK(panel_names(parsed.options) == std::vector<std::string>{"model", "prediction", "draw"});
  CHECK_FALSE(parsed.options.embed);
  CHECK(parsed.options.stroke_width == Approx(0.125f));
  CHECK(parsed.options.theme == Theme::dark);
  CHECK(parse_url_options("embed").options.embed);  // a bare flag means on
}

TEST_CASE("bad values give one clear message each and keep the defaults", "[app][url]") {
  const ParsedOptions parsed =
      parse_url_options("panels=draw,bogus,draw&embed=maybe&stroke=50&theme=pink&zoom=2&model=");
  const std::string text = joined(parsed.problems);
  INFO(text);
  CHECK(parsed.problems.size() == 6);
  CHECK(text.find("no panel 'bogus'; the panels are draw, prediction, input, model") != std::string::npos);
  CHECK(text.find("embed takes 1 or 0, not 'maybe'") != std::string::npos);
  CHECK(text.find("stroke is the pen width in percent") != std::string::npos);
  CHECK(text.find("theme is light or dark, not 'pink'") != std::string::npos);
  CHECK(text.find("Unknown URL parameter 'zoom'") != std::string::npos);
  CHECK(text.find("model is empty") != std::string::npos);
  CHECK(panel_names(parsed.options) == std::vector<std::string>{"draw"});  // the duplicate is dropped
  CHECK_FALSE(parsed.options.embed);
  CHECK(parsed.options.stroke_width == Approx(0.07f));
  CHECK(parsed.options.theme == Theme::light);
}

TEST_CASE("panels naming nothing known shows the demo's panels", "[app][url]") {
  for (const char* query : {"panels=", "panels=,,", "panels=nope"}) {
    const ParsedOptions parsed = parse_url_options(query);
    INFO(query << ": " << joined(parsed.problems));
    CHECK_FALSE(parsed.problems.empty());
    CHECK(parsed.options.panels == default_panels());
  }
}

TEST_CASE("a repeated parameter: the last counts, with a message", "[app][url]") {
  const ParsedOptions parsed = parse_url_options("model=a&model=b");
  CHECK(parsed.options.model == "b");
  REQUIRE(parsed.problems.size() == 1);
  CHECK(parsed.problems[0].find("more than once") != std::string::npos);
}

TEST_CASE("hostile values are cut short and control characters replaced in messages", "[app][url]") {
  const std::string long_name(5000, 'x');
  const ParsedOptions parsed = parse_url_options("theme=" + long_name + "&" + "%01%0a=1&stroke=1e999&stroke=nan&stroke=%");
  const std::string text = joined(parsed.problems);
  INFO(text);
  CHECK(text.size() < 2000);
  CHECK(text.find('\n') == std::string::npos);
  CHECK(text.find('\x01') == std::string::npos);
  CHECK(parsed.options.stroke_width == Approx(0.07f));
}

TEST_CASE("drawing= keeps a checked shared-link code; a damaged one gives a message and no drawing", "[app][url]") {
  const ParsedOptions good = parse_url_options("?panels=draw&drawing=1.C-REggEggCAggE&theme=dark");
  INFO(joined(good.problems));
  CHECK(good.problems.empty());
  CHECK(good.options.drawing == "1.C-REggEggCAggE");  // checked here, drawn by the App at start
  CHECK(good.options.theme == Theme::dark);  // the other parameters still count

  const ParsedOptions bad = parse_url_options("drawing=1.C-REgg%01EggCAggE&embed=1");
  CHECK(bad.options.drawing.empty());
  CHECK(bad.options.embed);
  REQUIRE(bad.problems.size() == 1);
  CHECK(bad.problems[0].find("URL parameter drawing was not drawn: character 9 ('?')") == 0);
  CHECK(bad.problems[0].find('\x01') == std::string::npos);

  const ParsedOptions huge = parse_url_options("drawing=1." + std::string(1000000, 'A'));
  REQUIRE(huge.problems.size() == 1);
  CHECK(huge.problems[0].size() < 300);
  CHECK(huge.options.drawing.empty());
}
