// Terminal output for the trainer: number formatting, the progress bar (only on a terminal), tables and
// the confusion matrix. Read next: trainer.hpp (who prints what), console.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "digitlab/text.hpp"

namespace digitlab::trainer {

using digitlab::with_thousands;  // shared/include/digitlab/text.hpp
// 75.4 -> "1m15s", 3.2 -> "3.2s".
std::string format_duration(double seconds);

bool is_terminal(std::FILE* stream);

// One progress bar on stderr, redrawn in place; a no-op when disabled (the trainer enables it when stderr
// is a terminal), so logs written to files stay clean. Log lines printed through print_line() clear the bar first.
class ProgressBar {
 public:
  explicit ProgressBar(bool enabled);
  void start(const std::string& label, std::int64_t total, std::int64_t done = 0);
  // done: steps finished; images: images processed since start(); extra: e.g. "loss 0.4243".
  void update(std::int64_t done, std::int64_t images, const std::string& extra);
  void finish();
  void print_line(const std::string& line);  // to stdout, with the bar moved out of the way
  bool enabled() const { return enabled_; }

 private:
  bool enabled_ = false, visible_ = false;
  std::string label_;
  std::int64_t total_ = 0, first_done_ = 0;
  std::chrono::steady_clock::time_point started_, last_draw_;
  void clear();
};

// A plain text table with right-aligned numeric columns, for results and benchmarks.
struct TextTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::string render() const;           // aligned columns for the terminal
  std::string render_markdown() const;  // a Markdown table
  std::string render_csv() const;       // RFC 4180 quoting
};

// The confusion matrix (rows: true class, columns: predicted) with per-class accuracy, class names as
// row labels (Fashion-MNIST's are words, MNIST's digits).
std::string render_confusion_matrix(const std::vector<std::vector<std::int64_t>>& matrix,
                                    const std::vector<std::string>& class_names);

}  // namespace digitlab::trainer
