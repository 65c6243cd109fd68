// Terminal output: thousands separators, durations, the in-place progress bar, tables, the confusion
// matrix. Read next: trainer.cpp (the training loop that drives the bar).
#include "console.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace digitlab::trainer {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  if (seconds < 60) return fmt::format("{:.1f}s", seconds);
  const auto total = static_cast<std::int64_t>(seconds + 0.5);
  if (total < 3600) return fmt::format("{}m{:02d}s", total / 60, total % 60);
  return fmt::format("{}h{:02d}m", total / 3600, (total % 3600) / 60);
}

bool is_terminal(std::FILE* stream) { return ::isatty(::fileno(stream)) == 1; }

ProgressBar::ProgressBar(bool enabled) : enabled_(enabled) {}

void ProgressBar::start(const std::string& label, std::int64_t total, std::int64_t done) {
  label_ = label;
  total_ = total;
  first_done_ = done;
  started_ = std::chrono::steady_clock::now();
  last_draw_ = started_ - std::chrono::seconds(1);
}

void ProgressBar::update(std::int64_t done, std::int64_t images, const std::string& extra) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  // Redrawing costs a write(2); ten times a second is plenty for a human.
  if (done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - started_).count();
  const double fraction = total_ > 0 ? double(done) / double(total_) : 1.0;
  const std::int64_t steps_here = done - first_done_;
  const double steps_per_second = elapsed > 0 ? steps_here / elapsed : 0;
  const double eta = steps_per_second > 0 ? (total_ - done) / steps_per_second : NAN;
  constexpr int kWidth = 30;
  const int filled = std::clamp(static_cast<int>(fraction * kWidth), 0, kWidth);
  std::string bar = std::string(filled, '#') + std::string(kWidth - filled, '.');
  std::fprintf(stderr, "\r\033[K%s [%s] %3.0f%% %lld/%lld  %s img/s  ETA %s  %s", label_.c_str(), bar.c_str(),
               fraction * 100, static_cast<long long>(done), static_cast<long long>(total_),
               with_thousands(static_cast<std::int64_t>(elapsed > 0 ? images / elapsed : 0)).c_str(),
               format_duration(eta).c_str(), extra.c_str());
  std::fflush(stderr);
  visible_ = true;
}

void ProgressBar::clear() {
  if (visible_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    visible_ = false;
  }
}

void ProgressBar::finish() { clear(); }

void ProgressBar::print_line(const std::string& line) {
  clear();
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

namespace {

bool looks_numeric(const std::string& cell) {
  if (cell.empty()) return false;
  return std::all_of(cell.begin(), cell.end(), [](char c) {
    return (c >= '0' && c <= '9') || c == '.' || c == ',' || c == '-' || c == '+' || c == '%' || c == 'e' || c == ' ';
  });
}

}  // namespace

std::string TextTable::render() const {
  std::vector<std::size_t> widths(header.size(), 0);
  for (std::size_t c = 0; c < header.size(); ++c) widths[c] = header[c].size();
  for (const auto& row : rows)
    for (std::size_t c = 0; c < row.size() && c < widths.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    for (std::size_t c = 0; c < widths.size(); ++c) {
      const std::string cell = c < cells.size() ? cells[c] : "";
      const std::string pad(widths[c] - cell.size(), ' ');
      out += (c ? "  " : "") + (looks_numeric(cell) ? pad + cell : cell + pad);
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    out += '\n';
  };
  line(header);
  std::vector<std::string> rule;
  for (std::size_t w : widths) rule.push_back(std::string(w, '-'));
  line(rule);
  for (const auto& row : rows) line(row);
  return out;
}

std::string TextTable::render_markdown() const {
  std::string out = "|";
  for (const auto& h : header) out += " " + h + " |";
  out += "\n|";
  for (std::size_t c = 0; c < header.size(); ++c) out += "---|";
  out += '\n';
  for (const auto& row : rows) {
    out += "|";
    for (const auto& cell : row) out += " " + cell + " |";
    out += '\n';
  }
  return out;
}

std::string TextTable::render_csv() const {
  auto quote = [](const std::string& cell) {
    if (cell.find_first_of(",\"\n") == std::string::npos) return cell;
    std::string q = "\"";
    for (char c : cell) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    for (std::size_t c = 0; c < cells.size(); ++c) out += (c ? "," : "") + quote(cells[c]);
    out += '\n';
  };
  line(header);
  for (const auto& row : rows) line(row);
  return out;
}

std::string render_confusion_matrix(const std::vector<std::vector<std::int64_t>>& matrix,
                                    const std::vector<std::string>& class_names) {
  const std::size_t n = matrix.size();
  std::size_t label_width = 4;
  for (const auto& name : class_names) label_width = std::max(label_width, name.size());
  std::int64_t largest = 0;
  for (const auto& row : matrix)
    for (std::int64_t v : row) largest = std::max(largest, v);
  const std::size_t cell = std::max<std::size_t>(std::to_string(largest).size(), 3) + 1;

  std::string out = fmt::format("{:>{}}  predicted ->\n", "true", label_width);
  out += std::string(label_width + 2, ' ');
  for (std::size_t c = 0; c < n; ++c) out += fmt::format("{:>{}}", c, cell);
  out += "   accuracy\n";
  for (std::size_t r = 0; r < n; ++r) {
    const std::string name = r < class_names.size() ? class_names[r] : std::to_string(r);
    std::int64_t total = 0;
    for (std::int64_t v : matrix[r]) total += v;
    // Fashion-MNIST rows carry the class name and its index (the columns are indices); MNIST's are digits.
    const std::string index = name == std::to_string(r) ? " " : std::to_string(r);
    out += fmt::format("{:>{}} {}", name, label_width, index);
    for (std::size_t c = 0; c < n; ++c) out += fmt::format("{:>{}}", matrix[r][c], cell);
    out += total > 0 ? fmt::format("   {:6.2f} %\n", 100.0 * matrix[r][r] / total) : "   -\n";
  }
  return out;
}

}  // namespace digitlab::trainer
