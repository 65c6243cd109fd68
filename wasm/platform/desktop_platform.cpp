// The desktop under the app (GLFW + OpenGL 3): models from a weights folder, files dropped on the window,
// and for tests and docs scripted strokes, a frame limit and a PNG screenshot. Run `digitlab-app --help`.
// Read next: main.cpp, common/manifest.hpp.
#include <GLFW/glfw3.h>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

#include "digitlab/bytes.hpp"
#include "app/fonts.hpp"
#include "common/i18n.hpp"
#include "common/json_reader.hpp"
#include "common/manifest.hpp"
#include "platform/platform.hpp"

#ifndef DIGITLAB_DEFAULT_WEIGHTS_DIR
#define DIGITLAB_DEFAULT_WEIGHTS_DIR "weights"
#endif
#ifndef DIGITLAB_DEFAULT_DATA_DIR
#define DIGITLAB_DEFAULT_DATA_DIR "data"
#endif

namespace digitlab::app {

namespace {

constexpr const char* kFooter =
    "Drop a weights file on the window to load it; Ctrl+Z undoes a stroke, Escape clears.\n"
    "Exit codes: 0 success, 2 bad command line, 3 --expect's label was not predicted.";

App* the_app = nullptr;

void on_drop(GLFWwindow*, int count, const char** paths) {
  for (int i = 0; i < count && the_app; ++i) {
    Result<std::vector<std::uint8_t>> bytes = read_file(paths[i], kMaxWeightsBytes);
    std::string name = paths[i];
    const std::size_t slash = name.find_last_of('/');
    if (slash != std::string::npos) name = name.substr(slash + 1);
    if (!bytes) {
      the_app->add_message(name + " was not loaded: " + bytes.error().to_string());
      continue;
    }
    (void)the_app->open_user_file(name, bytes.value());
  }
}

// "1100x720": both at least 64.
bool parse_size(const std::string& text, int* width, int* height) {
  char rest = 0;
  return std::sscanf(text.c_str(), "%dx%d%c", width, height, &rest) == 2 && *width >= 64 && *height >= 64;
}

// "0.52,0.16 0.5,0.84": points in the drawing area, 0..1.
bool parse_stroke(const char* text, std::vector<Point>* points) {
  std::string rest = text;
  std::size_t at = 0;
  while (at < rest.size()) {
    while (at < rest.size() && rest[at] == ' ') ++at;
    if (at >= rest.size()) break;
    char* end = nullptr;
    const float x = std::strtof(rest.c_str() + at, &end);
    if (!end || *end != ',') return false;
    const float y = std::strtof(end + 1, &end);
    if (!end || (*end != ' ' && *end != '\0')) return false;
    points->push_back({x, y});
    at = std::size_t(end - rest.c_str());
  }
  return !points->empty();
}

class DesktopPlatform final : public Platform {
 public:
  bool start(App& app, GLFWwindow* window, int argc, char** argv) override {
    the_app = &app;
    std::string options, open_file, size, language;
    std::vector<std::string> strokes;
    CLI::App cli{"digitlab-app: the digitlab web app on the desktop (GLFW + OpenGL 3), with every teaching panel."};
    cli.name("digitlab-app");
    cli.footer(kFooter);
    cli.add_option("--weights", weights_dir_, "folder with manifest.json and the weights files")
        ->type_name("DIR")->capture_default_str();
    cli.add_option("--data", data_dir_, "the site's data folder: test subsets for the teaching panels")
        ->type_name("DIR")->capture_default_str();
    cli.add_option("--options", options, "the web page's URL parameters, e.g. 'model=mnist-cnn&panels=draw,prediction'")
        ->type_name("QUERY");
    cli.add_option("--lang", language, "zh-Hant, zh-Hans or en: the language (the site's lang/ files in the data folder)")
        ->type_name("CODE")->check(CLI::Validator([](const std::string& text) {
          Language parsed;
          return language_from_code(text, parsed) ? std::string() : "expected zh-Hant, zh-Hans or en";
        }, ""));
    cli.add_option("--size", size, "window size in pixels (default 1100x720)")->type_name("WxH")
        ->check(CLI::Validator([](const std::string& text) {
          int width = 0, height = 0;
          return parse_size(text, &width, &height) ? std::string() : "expected WxH, e.g. 1100x720";
        }, ""));
    cli.add_option("--stroke", strokes, "draw a stroke once the model is loaded (0..1 in the drawing area; repeatable)")
        ->type_name("'x,y x,y ...'")->expected(1)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->check(CLI::Validator([](const std::string& text) {
          std::vector<Point> points;
          return parse_stroke(text.c_str(), &points) ? std::string() : "expected points 'x,y x,y ...'";
        }, ""));
    cli.add_option("--frames", frame_limit_, "quit after N frames")->type_name("N")
        ->check(CLI::Validator([](const std::string& text) {
          char rest = 0;
          int frames = 0;
          return std::sscanf(text.c_str(), "%d%c", &frames, &rest) == 1 && frames > 0 ? std::string()
                                                                                      : "expected a positive number";
        }, ""));
    cli.add_option("--screenshot", screenshot_, "save the last frame as PNG (with --frames)")->type_name("FILE");
    cli.add_option("--expect", expect_, "with --frames: exit 0 if the final prediction is LABEL, else 3")
        ->type_name("LABEL");
    cli.add_option("file.dlw", open_file, "a weights file to open at start, as if dropped on the window")->type_name("");
    try {
      cli.parse(argc, argv);
    } catch (const CLI::CallForHelp& help) {
      exit_code_ = cli.exit(help);
      return false;
    } catch (const CLI::ParseError& error) {
      cli.exit(error);  // prints what is wrong and "Run with --help for more information."
      exit_code_ = 2;
      return false;
    }
    if (!size.empty()) {
      int width = 0, height = 0;
      parse_size(size, &width, &height);
      glfwSetWindowSize(window, width, height);
    }
    for (const std::string& text : strokes) {
      std::vector<Point> points;
      parse_stroke(text.c_str(), &points);
      strokes_.push_back(std::move(points));
    }
    glfwSetDropCallback(window, on_drop);

    const std::string manifest_path = weights_dir_ + "/manifest.json";
    Result<std::vector<std::uint8_t>> manifest = read_file(manifest_path, 1 << 20);
    if (!manifest) {
      app.add_message("Could not read " + manifest_path + ": " + manifest.error().to_string() +
                      " Pass --weights DIR, or drop a weights file on the window.");
    } else {
      const std::vector<std::uint8_t>& bytes = manifest.value();
      ParsedManifest parsed = parse_manifest(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
      for (std::string& problem : parsed.problems) app.add_message(std::move(problem));
      for (ModelEntry& entry : parsed.models) app.catalog().add(std::move(entry));
      for (SweepEntry& sweep : parsed.sweeps) app.catalog().add_sweep(std::move(sweep));
    }
    Language shown = Language::english;
    if (language_from_code(language, shown) && shown != Language::english) load_language(app, language_code(shown));
    app.start(options);
    if (!open_file.empty()) {
      const char* paths[] = {open_file.c_str()};
      on_drop(window, 1, paths);
    }
    return true;
  }

  // The same files the page fetches (wasm/i18n/README.md), from <data>/lang/; if missing, English and a message.
  void load_language(App& app, const std::string& code) {
    const std::string base = data_dir_ + "/lang/" + code;
    Result<std::vector<std::uint8_t>> table = read_file(base + ".txt", 1 << 20);
    Result<std::vector<std::uint8_t>> font = read_file(base + ".otf", 8 << 20);
    std::string error;
    if (table && font && set_language(std::string(table.value().begin(), table.value().end()), std::move(font.value()), error))
      return;
    app.add_message("The " + code + " texts could not be loaded (" +
                    (!table ? table.error().to_string() : !font ? font.error().to_string() : error) +
                    "); the app is in English. Build the languages (make demo builds them), or pass --data DIR.");
  }

  float begin_frame(GLFWwindow* window) override {
    float x_scale = 1.f, y_scale = 1.f;
    glfwGetWindowContentScale(window, &x_scale, &y_scale);
    return x_scale > 0.f ? x_scale : 1.f;
  }

  void end_frame(GLFWwindow* window, App& app) override {
    ++frames_;
    const Rect area = app.drawing_rect();
    if (!strokes_.empty() && app.catalog().has_model() && area.width > 0.f) {
      for (const std::vector<Point>& stroke : strokes_) {
        auto at_x = [&](const Point& p) { return area.x + p.x * area.width; };
        auto at_y = [&](const Point& p) { return area.y + p.y * area.height; };
        app.pointer_down(at_x(stroke[0]), at_y(stroke[0]));
        for (const Point& p : stroke) app.pointer_move(at_x(p), at_y(p));
        app.pointer_up(at_x(stroke.back()), at_y(stroke.back()));
      }
      strokes_.clear();
    }
    if (frame_limit_ > 0 && frames_ >= frame_limit_) {
      done_ = true;
      if (!screenshot_.empty()) save_screenshot(window);
      std::printf("%s\n", app.state_json().c_str());
      if (!expect_.empty()) {
        const Result<JsonValue> state = parse_json(app.state_json());
        exit_code_ = state && state.value()["label"].as_string() == expect_ ? 0 : 3;
        std::printf("expected label %s: %s\n", expect_.c_str(), exit_code_ == 0 ? "ok" : "NOT predicted");
      }
    }
  }

  // A scripted run (--frames) draws every frame up to its limit, events or not.
  bool busy() const override { return frame_limit_ > 0 && !done_; }
  bool keep_running() const override { return !done_; }
  int exit_code() const override { return exit_code_; }

  void fetch_weights(int index, const ModelEntry& entry) override {
    const std::string path = weights_dir_ + "/" + entry.file;
    Result<std::vector<std::uint8_t>> bytes = read_file(path, kMaxWeightsBytes);
    if (bytes)
      the_app->weights_arrived(index, bytes.value());
    else
      the_app->weights_failed(index, bytes.error().to_string());
  }
  // The site's paths: weights/... from the weights folder, data/... from the data folder.
  void fetch_asset(const std::string& path) override {
    std::string file;
    if (path.rfind("weights/", 0) == 0 && is_safe_relative_path(path.substr(8)))
      file = weights_dir_ + "/" + path.substr(8);
    else if (path.rfind("data/", 0) == 0 && is_safe_relative_path(path.substr(5)))
      file = data_dir_ + "/" + path.substr(5);
    if (file.empty()) {
      the_app->asset_failed(path, path + " is not a file of the site (weights/... or data/...)");
      return;
    }
    Result<std::vector<std::uint8_t>> bytes = read_file(file, kMaxAssetBytes);
    if (bytes)
      the_app->asset_arrived(path, bytes.value());
    else
      the_app->asset_failed(path, bytes.error().to_string());
  }
  const char* open_files_hint() const override {
    return "Drop a weights file (.dlw) on the window to load it, or name it on the command line.";
  }
  double now_seconds() const override { return glfwGetTime(); }
  // No clipboard worth the code here: the link's query goes to stdout, for index.html?<query>.
  void copy_link(const std::string& query) override { std::printf("link: ?%s\n", query.c_str()); }

 private:
  void save_screenshot(GLFWwindow* window) {
    int width = 0, height = 0;
    glfwGetFramebufferSize(window, &width, &height);
    std::vector<unsigned char> pixels(std::size_t(width) * std::size_t(height) * 4);
    glPixelStorei(GL_PACK_ALIGNMENT, 1);
    glReadPixels(0, 0, width, height, GL_RGBA, GL_UNSIGNED_BYTE, pixels.data());
    stbi_flip_vertically_on_write(1);  // OpenGL's rows start at the bottom
    if (stbi_write_png(screenshot_.c_str(), width, height, 4, pixels.data(), width * 4))
      std::printf("screenshot: %s (%dx%d)\n", screenshot_.c_str(), width, height);
    else
      std::fprintf(stderr, "digitlab-app: could not write %s\n", screenshot_.c_str());
  }

  std::string weights_dir_ = DIGITLAB_DEFAULT_WEIGHTS_DIR;
  std::string data_dir_ = DIGITLAB_DEFAULT_DATA_DIR;
  std::vector<std::vector<Point>> strokes_;
  int frame_limit_ = 0, frames_ = 0, exit_code_ = 0;
  bool done_ = false;
  std::string screenshot_, expect_;
};

}  // namespace

std::unique_ptr<Platform> make_platform() { return std::make_unique<DesktopPlatform>(); }

void report_fatal(const char* message) { std::fprintf(stderr, "digitlab-app: %s\n", message); }

}  // namespace digitlab::app
