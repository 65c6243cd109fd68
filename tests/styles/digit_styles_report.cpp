// Prints the drawn-digit evaluation set's figures (docs/benchmarks.md, "Digits as people write them"): per
// digit and per style accuracy of every shipped MNIST model; with --calibration the "unsure" mark and the
// top-two rule measured on the set and the MNIST test set; with --sample the drawings the browser test
// replays in the page, with this machine's reading of each. Read next: tests/support/digit_style_set.hpp.
//
// Usage: digit_styles_report [--weights DIR] [--calibration] [--sample FILE [--per-style N]]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "digitlab/idx.hpp"
#include "digitlab/preprocess.hpp"
#include "digitlab/weights.hpp"
#include "support/digit_style_set.hpp"

using namespace digitlab;
using namespace digitlab::testing;

namespace {

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "digit_styles_report: %s\n", message.c_str());
  std::exit(1);
}

struct ShippedModel {
  std::string name, file;
  bool is_default = false;
  Model model;
};

std::vector<ShippedModel> load_mnist_models(const std::string& folder) {
  std::ifstream in(folder + "/manifest.json");
  if (!in) fail("cannot read " + folder + "/manifest.json: pass --weights with the folder that holds it");
  const nlohmann::json manifest = nlohmann::json::parse(in, nullptr, false);
  if (manifest.is_discarded() || !manifest.contains("models")) fail(folder + "/manifest.json is not a weights manifest");
  std::vector<ShippedModel> models;
  for (const auto& entry : manifest.at("models")) {
    if (entry.value("dataset", "") != "mnist") continue;  // the style set is digits
    ShippedModel m;
    m.name = entry.at("name").get<std::string>();
    m.file = entry.at("file").get<std::string>();
    m.is_default = entry.value("default", false);
    auto bytes = read_file(folder + "/" + m.file, 64u << 20);
    if (!bytes) fail(bytes.error().to_string());
    auto loaded = load_weights(ByteSpan(bytes.value()));
    if (!loaded) fail(m.file + ": " + loaded.error().to_string());
    m.model = std::move(loaded.value().model);
    models.push_back(std::move(m));
  }
  if (models.empty()) fail(folder + "/manifest.json lists no MNIST model");
  std::stable_sort(models.begin(), models.end(), [](const auto& a, const auto& b) { return a.is_default > b.is_default; });
  return models;
}

std::string percent(int right, int total) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %%", total ? 100.0 * right / total : 0.0);
  return text;
}

// What one reading tells the calibration: the truth, the logits, and the answer.
struct Reading {
  int truth = 0;
  std::vector<float> logits;
};

std::vector<float> softmax(const std::vector<float>& logits, double temperature) {
  std::vector<float> p(logits.size());
  const float top = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (std::size_t i = 0; i < logits.size(); ++i) sum += p[i] = float(std::exp((logits[i] - top) / temperature));
  for (float& v : p) v = float(v / sum);
  return p;
}

struct Answer {
  int label = 0, second = 0;
  float top = 0, runner_up = 0;
  bool right = false;
};
Answer answer(const Reading& r, double temperature) {
  const std::vector<float> p = softmax(r.logits, temperature);
  Answer a;
  a.label = int(std::max_element(p.begin(), p.end()) - p.begin());
  a.top = p[std::size_t(a.label)];
  a.second = a.label == 0 ? 1 : 0;
  for (int i = 0; i < int(p.size()); ++i)
    if (i != a.label && p[std::size_t(i)] > p[std::size_t(a.second)]) a.second = i;
  a.runner_up = p[std::size_t(a.second)];
  a.right = a.label == r.truth;
  return a;
}

double negative_log_likelihood(const std::vector<Reading>& readings, double temperature) {
  double sum = 0;
  for (const Reading& r : readings) sum -= std::log(std::max(1e-30f, softmax(r.logits, temperature)[std::size_t(r.truth)]));
  return sum / double(readings.size());
}

struct Marks {
  int wrong = 0, wrong_marked = 0, right = 0, right_marked = 0;
};
Marks count_marks(const std::vector<Reading>& readings, double temperature, double threshold) {
  Marks m;
  for (const Reading& r : readings) {
    const Answer a = answer(r, temperature);
    const bool marked = a.top < threshold;
    if (a.right) m.right += 1, m.right_marked += marked;
    else m.wrong += 1, m.wrong_marked += marked;
  }
  return m;
}
std::string marks_text(const Marks& m) {
  return std::to_string(m.wrong_marked) + "/" + std::to_string(m.wrong) + " wrong marked, " +
         std::to_string(m.right_marked) + "/" + std::to_string(m.right) + " right marked (" + percent(m.right_marked, m.right) + ")";
}

std::vector<Reading> read_set(const Model& model, const std::vector<StyleDrawing>& set) {
  std::vector<Reading> readings;
  for (const StyleDrawing& d : set) {
    auto p = read_drawing(model, d);
    if (!p) fail(describe(d) + ": " + p.error().to_string());
    readings.push_back({d.digit, p.value().logits});
  }
  return readings;
}

std::vector<Reading> read_mnist(const Model& model, const IdxDataset& test, std::uint32_t from, std::uint32_t to) {
  std::vector<Reading> readings;
  std::vector<float> input(784);
  for (std::uint32_t i = from; i < to; ++i) {
    const std::uint8_t* pixels = test.images.image(i);
    for (int p = 0; p < 784; ++p)
      input[std::size_t(p)] = (float(pixels[p]) / 255.f - model.card.normalize_mean) / model.card.normalize_std;
    auto prediction = forward(model, input.data(), input.size());
    if (!prediction) fail(prediction.error().to_string());
    readings.push_back({int(test.labels.labels[i]), prediction.value().logits});
  }
  return readings;
}

void calibration(const ShippedModel& m, const std::vector<DigitTemplate>& templates) {
  auto test = load_idx_dataset(std::string(DIGITLAB_DATA_DIR) + "/mnist", "t10k");
  if (!test) fail("the MNIST test set: " + test.error().to_string() + " (scripts/setup fetches it)");
  // Fitted on held-out data: fresh drawings of the set's grid (variants 1 and 2) and the first half of the
  // MNIST test set; reported on the evaluation set (variant 0) and the second half, and the whole test set.
  std::vector<Reading> fit = read_set(m.model, digit_style_set(templates, 1));
  for (const Reading& r : read_set(m.model, digit_style_set(templates, 2))) fit.push_back(r);
  for (const Reading& r : read_mnist(m.model, test.value(), 0, 5000)) fit.push_back(r);
  const std::vector<Reading> styles = read_set(m.model, digit_style_set(templates, 0));
  const std::vector<Reading> mnist_second = read_mnist(m.model, test.value(), 5000, 10000);
  const std::vector<Reading> mnist = read_mnist(m.model, test.value(), 0, 10000);

  std::printf("\n### The \"unsure\" mark (%s)\n\n", m.name.c_str());
  std::printf("Fitted on %zu held-out readings (style set variants 1-2: the same grid, other jitter; MNIST test 0-4999).\n\n",
              fit.size());
  double best_t = 1.0, best_nll = negative_log_likelihood(fit, 1.0);
  for (double t = 0.5; t <= 4.0001; t += 0.05)
    if (double nll = negative_log_likelihood(fit, t); nll < best_nll) best_nll = nll, best_t = t;
  std::printf("Temperature fitted by negative log-likelihood: T = %.2f (NLL %.4f; at T = 1: %.4f).\n\n", best_t, best_nll,
              negative_log_likelihood(fit, 1.0));
  std::printf("| temperature | unsure below | fit data | style set (eval) | MNIST test 5000-9999 | MNIST test (all) |\n");
  std::printf("|---|---|---|---|---|---|\n");
  std::vector<double> temperatures = {1.0};
  if (std::abs(best_t - 1.0) > 1e-6) temperatures.push_back(best_t);
  for (double temperature : temperatures)
    for (double threshold : {0.5, 0.6, 0.7, 0.8, 0.9, 0.95})
      std::printf("| %.2f | %.2f | %s | %s | %s | %s |\n", temperature, threshold,
                  marks_text(count_marks(fit, temperature, threshold)).c_str(),
                  marks_text(count_marks(styles, temperature, threshold)).c_str(),
                  marks_text(count_marks(mnist_second, temperature, threshold)).c_str(),
                  marks_text(count_marks(mnist, temperature, threshold)).c_str());
  // The choice, on the fit data only: the threshold that marks the largest share of mistakes while marking
  // at most 1 % of right answers (ties: the lower threshold, fewer marks).
  for (double temperature : temperatures) {
    double chosen = 0.5, chosen_share = -1;
    for (double threshold = 0.3; threshold <= 0.9951; threshold += 0.005) {
      const Marks f = count_marks(fit, temperature, threshold);
      const double share = f.wrong ? double(f.wrong_marked) / f.wrong : 0.0;
      if (double(f.right_marked) <= 0.01 * f.right && share > chosen_share) chosen = threshold, chosen_share = share;
    }
    std::printf("\nChosen at T = %.2f (fit data: most mistakes marked with <= 1 %% of right answers marked): unsure below %.3f.\n",
                temperature, chosen);
    std::printf("- fit data: %s\n", marks_text(count_marks(fit, temperature, chosen)).c_str());
    std::printf("- style set (eval): %s\n", marks_text(count_marks(styles, temperature, chosen)).c_str());
    std::printf("- MNIST test 5000-9999: %s\n", marks_text(count_marks(mnist_second, temperature, chosen)).c_str());
    std::printf("- MNIST test (all): %s\n", marks_text(count_marks(mnist, temperature, chosen)).c_str());
  }

  // The top-two rule (issue 16, item 4): how often it shows two, and how often a mistake's truth is the
  // second one shown (the learner sees what the confusion is about).
  std::printf("\n### Showing the top two (%s, T = 1)\n\n", m.name.c_str());
  std::printf("| rule | style set: two shown (right / wrong answers) | style set: wrong with the truth second | "
              "MNIST test: two shown (right / wrong) | MNIST test: wrong with the truth second |\n|---|---|---|---|---|\n");
  struct Rule {
    std::string name;
    double second_at_least, gap_below;
  };
  const std::vector<Rule> rules = {{"second >= 0.10", 0.10, -1}, {"second >= 0.15", 0.15, -1}, {"second >= 0.20", 0.20, -1},
                                   {"second >= 0.25", 0.25, -1}, {"top - second < 0.3", -1, 0.3},
                                   {"top - second < 0.5", -1, 0.5}, {"top - second < 0.7", -1, 0.7}};
  for (const Rule& rule : rules) {
    std::string cells[2][2];
    for (int set = 0; set < 2; ++set) {
      const std::vector<Reading>& readings = set == 0 ? styles : mnist;
      int right = 0, right_two = 0, wrong = 0, wrong_two = 0, truth_second = 0;
      for (const Reading& r : readings) {
        const Answer a = answer(r, 1.0);
        const bool two = rule.second_at_least >= 0 ? a.runner_up >= rule.second_at_least : a.top - a.runner_up < rule.gap_below;
        if (a.right) right += 1, right_two += two;
        else wrong += 1, wrong_two += two, truth_second += two && a.second == r.truth;
      }
      cells[set][0] = std::to_string(right_two) + "/" + std::to_string(right) + " (" + percent(right_two, right) + ") / " +
                      std::to_string(wrong_two) + "/" + std::to_string(wrong);
      cells[set][1] = std::to_string(truth_second) + "/" + std::to_string(wrong);
    }
    std::printf("| %s | %s | %s | %s | %s |\n", rule.name.c_str(), cells[0][0].c_str(), cells[0][1].c_str(),
                cells[1][0].c_str(), cells[1][1].c_str());
  }
}

// The browser test's sample: per style, per_style drawings of the evaluation set spread over pen widths,
// sizes, slants and positions, with the default model's reading here.
void write_sample(const std::string& file, const ShippedModel& m, const std::vector<StyleDrawing>& set,
                  const StyleScores& scores, int per_style) {
  nlohmann::json sample;
  sample["about"] = "Drawings of the evaluation set (tests/support/digit_style_set.cpp) with the native reading; "
                    "written by digit_styles_report --sample, replayed by tests/browser/digit_styles.test.mjs.";
  sample["model"] = m.name;
  nlohmann::json drawings = nlohmann::json::array();
  const std::size_t cells = 81;
  for (std::size_t start = 0, style = 0; start + cells <= set.size(); start += cells, ++style)
    for (int k = 0; k < per_style; ++k) {
      // Cells step through the grid with a stride coprime to 81 (37 = 27 + 9 + 1: the next pen width,
      // size and slant), counted over styles too, so even one drawing per style covers every pen width.
      const std::size_t index = start + ((style * std::size_t(per_style) + std::size_t(k)) * 37 + 4) % cells;
      const StyleDrawing& d = set[index];
      nlohmann::json strokes = nlohmann::json::array();
      for (const auto& stroke : d.strokes) {
        nlohmann::json points = nlohmann::json::array();
        for (const app::Point& p : stroke) points.push_back({p.x, p.y});
        strokes.push_back(points);
      }
      drawings.push_back({{"digit", d.digit}, {"style", d.style}, {"describe", describe(d)},
                          {"pen_width", d.pen_width}, {"strokes", strokes},
                          {"native_label", scores.predictions[index].label},
                          {"native_probabilities", scores.predictions[index].probabilities}});
    }
  sample["drawings"] = drawings;
  std::ofstream out(file);
  if (!out) fail("cannot write " + file);
  out << sample.dump() << "\n";
  std::printf("\nWrote %zu drawings for the browser to %s\n", drawings.size(), file.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  std::string weights = DIGITLAB_SOURCE_DIR "/weights", sample;
  bool calibrate = false;
  int per_style = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--weights" && i + 1 < argc) weights = argv[++i];
    else if (arg == "--sample" && i + 1 < argc) sample = argv[++i];
    else if (arg == "--per-style" && i + 1 < argc) per_style = std::max(1, std::min(81, std::atoi(argv[++i])));
    else if (arg == "--calibration") calibrate = true;
    else fail("unknown argument '" + arg + "': use [--weights DIR] [--calibration] [--sample FILE [--per-style N]]");
  }
  const std::vector<DigitTemplate> templates = load_digit_templates(kDigitStylesFile);
  const std::vector<StyleDrawing> set = digit_style_set(templates);
  const std::vector<ShippedModel> models = load_mnist_models(weights);
  std::vector<StyleScores> scores;
  for (const ShippedModel& m : models) {
    auto scored = score_style_set(m.model, set);
    if (!scored) fail(m.name + ": " + scored.error().to_string());
    scores.push_back(std::move(scored.value()));
  }
  std::printf("Style set: %zu drawings, %zu styles x 81 placements (tests/data/digit_styles.json, weights %s).\n\n",
              set.size(), templates.size(), weights.c_str());
  std::printf("| | ");
  for (const ShippedModel& m : models) std::printf("%s%s | ", m.name.c_str(), m.is_default ? " (default)" : "");
  std::printf("\n|---|");
  for (std::size_t i = 0; i < models.size(); ++i) std::printf("---|");
  std::printf("\n| **all** | ");
  for (const StyleScores& s : scores) std::printf("**%s** | ", percent(s.correct, s.total).c_str());
  for (int d = 0; d < 10; ++d) {
    std::printf("\n| digit %d | ", d);
    for (const StyleScores& s : scores) std::printf("%s | ", percent(s.digit_correct[d], s.digit_total[d]).c_str());
  }
  for (std::size_t t = 0; t < scores[0].styles.size(); ++t) {
    std::printf("\n| %s | ", scores[0].styles[t].c_str());
    for (const StyleScores& s : scores) std::printf("%s | ", percent(s.style_correct[t], s.style_total[t]).c_str());
  }
  std::printf("\n");
  for (std::size_t i = 0; i < models.size(); ++i) {
    std::printf("\n%s misread %zu:", models[i].name.c_str(), scores[i].misread.size());
    const std::size_t shown = std::min<std::size_t>(scores[i].misread.size(), models[i].is_default ? 40 : 12);
    for (std::size_t k = 0; k < shown; ++k) std::printf("%s %s", k ? ";" : "", scores[i].misread[k].c_str());
    if (shown < scores[i].misread.size()) std::printf("; ...");
    std::printf("\n");
  }
  if (calibrate) calibration(models[0], templates);
  if (!sample.empty()) write_sample(sample, models[0], set, scores[0], per_style);
  return 0;
}
