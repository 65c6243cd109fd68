// The "network" teaching panel (panels.hpp): the active model's layers as `digitlab info` prints them
// (kind, output shape, parameters), and for the current drawing each layer's output: a grid of feature
// maps for image-like outputs (conv, batch_norm, relu, pool), a strip of cells for flat ones (linear).
// Hover a layer to preview it, click to keep it; click a map to enlarge it. Read next: network_layers.hpp.
//
// Sections: colours and maps - the layer table - the activations view - the panel and its state.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/i18n.hpp"
#include "imgui.h"
#include "teaching/network_layers.hpp"
#include "teaching/teaching_panel.hpp"
#include "teaching/widgets.hpp"

namespace digitlab::app {

namespace {

using widgets::item_rect;


// Values of one layer's output shown as colours: `low` maps to the ramp's start, `high` to its end.
struct Scale {
  float low = 0, high = 1;
  float at(float v) const { return high > low ? (v - low) / (high - low) : 0.f; }
};

Scale scale_of(const std::vector<float>& values) {
  Scale scale{0.f, 0.f};
  if (values.empty()) return scale;
  scale.low = scale.high = values[0];
  for (float v : values) scale.low = std::min(scale.low, v), scale.high = std::max(scale.high, v);
  return scale;
}

// A (height, width) map of values at p0 with `cell` px per value. Cells at the bottom of the scale are left
// to the background (most of a ReLU's output is 0), which keeps big layers cheap to draw.
void draw_map(ImDrawList* draw, ImVec2 p0, const float* values, std::int64_t height, std::int64_t width, float cell,
              const Scale& scale) {
  draw->AddRectFilled(p0, ImVec2(p0.x + cell * float(width), p0.y + cell * float(height)), widgets::heat_color(0.f));
  for (std::int64_t y = 0; y < height; ++y)
    for (std::int64_t x = 0; x < width; ++x) {
      const float t = scale.at(values[y * width + x]);
      if (t < 0.01f) continue;
      const ImVec2 a(p0.x + float(x) * cell, p0.y + float(y) * cell);
      draw->AddRectFilled(a, ImVec2(a.x + cell, a.y + cell), widgets::heat_color(t));
    }
}

// The colour ramp with the layer's lowest and highest values at its ends.
void draw_legend(const Scale& scale, float width) {
  ImDrawList* draw = ImGui::GetWindowDrawList();
  char low[32], high[32];
  std::snprintf(low, sizeof low, "%.3g", scale.low);
  std::snprintf(high, sizeof high, "%.3g", scale.high);
  ImGui::TextUnformatted(low);
  ImGui::SameLine();
  const ImVec2 p0 = ImGui::GetCursorScreenPos();
  const float ramp = std::max(40.f, width - ImGui::CalcTextSize(low).x - ImGui::CalcTextSize(high).x - 24.f);
  const float h = ImGui::GetTextLineHeight();
  for (int i = 0; i < 32; ++i) {
    const float x0 = p0.x + ramp * float(i) / 32.f, x1 = p0.x + ramp * float(i + 1) / 32.f;
    draw->AddRectFilled(ImVec2(x0, p0.y + 2.f), ImVec2(x1 + 1.f, p0.y + h - 2.f), widgets::heat_color(float(i) / 31.f));
  }
  ImGui::Dummy(ImVec2(ramp, h));
  ImGui::SameLine();
  ImGui::TextUnformatted(high);
}

// ---- the panel -------------------------------------------------------------------------------------------

class Panel final : public TeachingPanel {
 public:
  bool wants_activations() const override { return true; }

  void draw(PanelContext& context) override {
    if (!context.catalog.has_model()) {
      has_model_ = false;
      ImGui::TextWrapped("%s", tr("No model is loaded yet: pick one in the Model panel (or wait for the default to load) to see its layers."));
      return;
    }
    has_model_ = true;
    const Model& model = context.catalog.active().model;
    if (generation_ != context.model_generation) {
      generation_ = context.model_generation;
      selected_layer_ = -1, selected_channel_ = -1;
      Result<std::vector<ActivationShape>> shapes = infer_shapes(model);
      shapes_error_ = shapes ? std::string() : shapes.error().to_string();
      shapes_ = shapes ? shapes.value() : std::vector<ActivationShape>{};
      for (std::size_t i = 0; i < model.layers.size() && selected_layer_ < 0; ++i)
        if (model.layers[i].kind != LayerKind::flatten && model.layers[i].kind != LayerKind::dropout)
          selected_layer_ = int(i);
      model_name_ = context.catalog.active_entry()->name;
    }
    if (!shapes_error_.empty()) {
      ImGui::TextWrapped(tr("This model's layers do not fit together, so they cannot be shown: %s"), shapes_error_.c_str());
      return;
    }
    activations_ = context.has_prediction && context.prediction.activations.size() == model.layers.size()
                       ? &context.prediction.activations : nullptr;
    has_activations_ = activations_ != nullptr;
    has_drawing_ = context.has_prediction;

    const float scale = context.ui_scale;
    const ImVec2 available = ImGui::GetContentRegionAvail();
    const float spacing = ImGui::GetStyle().ItemSpacing.x;
    const float left_width = std::floor(std::min(std::max(available.x * 0.4f, 330.f * scale), 420.f * scale));
    const bool side_by_side = available.x >= left_width + 240.f * scale;

    hovered_layer_ = -1;
    ImGui::BeginChild("layers", ImVec2(side_by_side ? left_width : available.x, side_by_side ? available.y : available.y * 0.45f));
    if (!context.draw_panel_shown) {
      const float side = std::floor(std::min(170.f * scale, left_width * 0.5f));
      context.draw_canvas(side);
      ImGui::SameLine();
      ImGui::BeginGroup();
      ImGui::TextWrapped("%s", tr("Draw a digit here: each layer's output for it appears on the right."));
      ImGui::EndGroup();
    }
    draw_table(model);
    ImGui::EndChild();
    if (side_by_side) ImGui::SameLine(0.f, spacing);
    ImGui::BeginChild("activations", ImVec2(0.f, 0.f));
    draw_activations(model, context);
    ImGui::EndChild();
  }

  void write_state(JsonWriter& json) const override {
    json.begin_object().key("model");
    if (!has_model_) {
      json.null().end_object();
      return;
    }
    json.string(model_name_);
    json.key("layer_count").integer(std::int64_t(shapes_.size())).key("parameters").integer(parameters_);
    json.key("layers").begin_array();
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      json.begin_object().key("description").string(layers_[i].description);
      json.key("shape").begin_array();
      for (auto dim : shapes_[i].dims) json.integer(std::int64_t(dim));
      json.end_array();
      json.key("parameters").integer(layers_[i].parameters);
      json.key("activation_size").integer(layers_[i].activation_size);
      json.key("row").rect(layers_[i].row).end_object();
    }
    json.end_array();
    json.key("has_drawing").boolean(has_drawing_).key("has_activations").boolean(has_activations_);
    json.key("selected_layer").integer(selected_layer_).key("shown_layer").integer(shown_layer_);
    json.key("selected_channel").integer(selected_channel_);
    json.key("view").string(view_);
    json.key("maps_drawn").integer(maps_drawn_);
    json.key("range").begin_array().number(shown_scale_.low).number(shown_scale_.high).end_array();
    json.key("first_map").rect(first_map_);
    json.end_object();
  }

 private:
  struct LayerRow {
    std::string description;
    std::int64_t parameters = 0;
    std::int64_t activation_size = 0;  // values in this layer's output for the drawing (0 without one)
    Rect row;
  };

  void draw_table(const Model& model) {
    layers_.resize(model.layers.size());
    parameters_ = parameter_count(model);
    ImGui::Text(tr("%s: %s on %s"), model_name_.c_str(), model.card.architecture.c_str(), model.card.dataset.c_str());
    ImGui::Text(tr("input (%lld, %lld, %lld)   %s parameters"), (long long)model.card.input_channels,
                (long long)model.card.input_height, (long long)model.card.input_width,
                with_thousands(parameters_).c_str());
    // The table by hand (Selectable rows, columns by SameLine offsets): ImGui's tables would add about 12 KB
    // of wasm. Columns: index, layer, output shape, parameters (right-aligned).
    const float spacing = ImGui::GetStyle().ItemSpacing.x;
    const char* output_word = tr("output");
    const char* params_word = tr("params");
    float shape_w = ImGui::CalcTextSize(output_word).x, params_w = ImGui::CalcTextSize(params_word).x;
    std::vector<std::string> shapes(model.layers.size()), counts(model.layers.size());
    for (std::size_t i = 0; i < model.layers.size(); ++i) {
      const LayerDescription described = describe_layer(model.layers[i], &shapes_[i]);  // as `digitlab info` says it
      shapes[i] = described.output_shape;
      counts[i] = described.parameters;
      shape_w = std::max(shape_w, ImGui::CalcTextSize(shapes[i].c_str()).x);
      params_w = std::max(params_w, ImGui::CalcTextSize(counts[i].c_str()).x);
    }
    const float width = ImGui::GetContentRegionAvail().x - ImGui::GetStyle().ScrollbarSize;
    const float x_layer = ImGui::CalcTextSize("00").x + spacing, x_params = width - params_w;
    const float x_shape = x_params - spacing - shape_w;
    ImGui::Separator();
    ImGui::TextDisabled("#");
    ImGui::SameLine(x_layer), ImGui::TextDisabled("%s", tr("layer"));
    ImGui::SameLine(x_shape), ImGui::TextDisabled("%s", output_word);
    ImGui::SameLine(x_params), ImGui::TextDisabled("%s", params_word);
    ImGui::Separator();
    ImGui::BeginChild("layer rows", ImVec2(0.f, 0.f));
    for (std::size_t i = 0; i < model.layers.size(); ++i) {
      const Layer& layer = model.layers[i];
      LayerRow& row = layers_[i];
      row.description = layer_words(layer);
      row.parameters = parameter_count(layer);
      row.activation_size = activations_ ? std::int64_t((*activations_)[i].size()) : 0;
      ImGui::PushID(int(i));
      if (ImGui::Selectable("##row", selected_layer_ == int(i))) {
        if (selected_layer_ != int(i)) selected_channel_ = -1;
        selected_layer_ = int(i);
      }
      ImGui::PopID();
      if (ImGui::IsItemHovered()) hovered_layer_ = int(i);
      row.row = item_rect();
      ImGui::SameLine(1.f);  // back to the row's start (0 would mean "after the last item")
      ImGui::Text("%zu", i);
      ImGui::SameLine(x_layer);
      ImGui::TextUnformatted(layer_short_description(layer).c_str());
      ImGui::SameLine(x_shape);
      ImGui::TextUnformatted(shapes[i].c_str());
      ImGui::SameLine(x_params + params_w - ImGui::CalcTextSize(counts[i].c_str()).x);
      if (row.parameters) ImGui::TextUnformatted(counts[i].c_str());
      else ImGui::TextDisabled("-");
    }
    ImGui::EndChild();
  }

  void draw_activations(const Model& model, PanelContext& context) {
    maps_drawn_ = 0;
    first_map_ = Rect{};
    view_ = "none";
    shown_layer_ = hovered_layer_ >= 0 ? hovered_layer_ : selected_layer_;
    if (shown_layer_ < 0 || std::size_t(shown_layer_) >= model.layers.size()) {
      ImGui::TextWrapped("%s", tr("Click a layer on the left to see its output."));
      return;
    }
    const std::size_t index = std::size_t(shown_layer_);
    ImGui::Text(tr("Layer %d: %s"), shown_layer_, layer_words(model.layers[index]).c_str());
    ImGui::TextDisabled(tr("output %s%s"), shape_text(shapes_[index].dims).c_str(),
                        hovered_layer_ >= 0 && hovered_layer_ != selected_layer_ ? tr("   (preview: click to keep)") : "");
    if (!activations_) {
      ImGui::Spacing();
      ImGui::TextWrapped("%s", context.has_prediction ? tr("Computing every layer's output for the drawing...")
                                                      : tr("Draw a digit to see what each layer computes from it: the feature maps of the convolutions, the activations of the linear layers."));
      return;
    }
    const std::vector<float>& values = (*activations_)[index];
    const ActivationView view = activation_view(shapes_[index]);
    if (std::int64_t(values.size()) != view.size || view.size == 0) {
      ImGui::TextWrapped(tr("This layer's output has %zu values but its shape says %lld; pick another layer."), values.size(),
                         (long long)view.size);
      return;
    }
    shown_scale_ = scale_of(values);
    draw_legend(shown_scale_, std::min(ImGui::GetContentRegionAvail().x, 360.f * context.ui_scale));
    if (view.maps) draw_feature_maps(values, view, context.ui_scale);
    else draw_strip(model, values, context);
  }

  void draw_feature_maps(const std::vector<float>& values, const ActivationView& view, float scale) {
    view_ = "maps";
    const int channels = int(view.channels);
    if (selected_channel_ >= channels) selected_channel_ = -1;
    const ImVec2 room = ImGui::GetContentRegionAvail();
    const float gap = std::round(3.f * scale);
    const float line = ImGui::GetTextLineHeightWithSpacing();
    // The enlarged channel takes a column on the right when one is selected.
    const float enlarged = selected_channel_ >= 0 ? std::floor(std::min(room.x * 0.35f, room.y - 2.f * line)) : 0.f;
    const float grid_w = room.x - (enlarged > 0 ? enlarged + 2.f * gap : 0.f), grid_h = room.y - line;
    // The column count that makes the maps largest.
    int best_columns = 1;
    float best_cell = 0;
    for (int columns = 1; columns <= channels; ++columns) {
      const int rows = (channels + columns - 1) / columns;
      const float cell = std::min((grid_w / float(columns) - gap) / float(view.width),
                                  (grid_h / float(rows) - gap) / float(view.height));
      if (cell > best_cell) best_cell = cell, best_columns = columns;
    }
    int shown = channels;
    if (best_cell < 1.f) {  // too many channels to read: show as many as fit at 1.5 px per value
      best_cell = 1.5f;
      best_columns = std::max(1, int(grid_w / (best_cell * float(view.width) + gap)));
      shown = std::min(channels, best_columns * std::max(1, int(grid_h / (best_cell * float(view.height) + gap))));
    }
    const float cell = best_cell >= 2.f ? std::floor(best_cell) : best_cell;
    const float map_w = cell * float(view.width), map_h = cell * float(view.height);
    ImDrawList* draw = ImGui::GetWindowDrawList();
    const ImVec2 origin = ImGui::GetCursorScreenPos();
    const std::int64_t plane = view.height * view.width;
    for (int c = 0; c < shown; ++c) {
      const ImVec2 p0(origin.x + float(c % best_columns) * (map_w + gap), origin.y + float(c / best_columns) * (map_h + gap));
      ImGui::SetCursorScreenPos(p0);
      ImGui::PushID(c);
      if (ImGui::InvisibleButton("map", ImVec2(std::max(map_w, 1.f), std::max(map_h, 1.f))))
        selected_channel_ = selected_channel_ == c ? -1 : c;
      const bool hovered = ImGui::IsItemHovered();
      if (c == 0) first_map_ = item_rect();
      ImGui::PopID();
      draw_map(draw, p0, values.data() + c * plane, view.height, view.width, cell, shown_scale_);
      if (c == selected_channel_ || hovered)
        draw->AddRect(ImVec2(p0.x - 1.f, p0.y - 1.f), ImVec2(p0.x + map_w + 1.f, p0.y + map_h + 1.f),
                      ImGui::GetColorU32(c == selected_channel_ ? ImGuiCol_PlotHistogram : ImGuiCol_Text), 0.f, 0, 2.f);
      if (hovered) ImGui::SetTooltip(c == selected_channel_ ? tr("channel %d (click to close)") : tr("channel %d (click to enlarge)"), c);
      ++maps_drawn_;
    }
    const int rows = (shown + best_columns - 1) / best_columns;
    ImGui::SetCursorScreenPos(ImVec2(origin.x, origin.y + float(rows) * (map_h + gap)));
    if (shown < channels) ImGui::TextDisabled(tr("showing %d of %d channels"), shown, channels);
    else ImGui::TextDisabled(tr("%d channels of %lldx%lld; click one to enlarge it"), channels, (long long)view.height,
                             (long long)view.width);
    if (selected_channel_ >= 0) {
      const float big_cell = enlarged / float(std::max(view.width, view.height));
      const ImVec2 p0(origin.x + room.x - enlarged, origin.y);
      draw_map(draw, p0, values.data() + selected_channel_ * plane, view.height, view.width, big_cell, shown_scale_);
      draw->AddRect(p0, ImVec2(p0.x + big_cell * float(view.width), p0.y + big_cell * float(view.height)),
                    ImGui::GetColorU32(ImGuiCol_Border));
      char caption[48];
      std::snprintf(caption, sizeof caption, tr("channel %d"), selected_channel_);
      draw->AddText(ImVec2(p0.x, p0.y + big_cell * float(view.height) + 4.f), ImGui::GetColorU32(ImGuiCol_Text), caption);
    }
  }

  // A flat output: cells in rows, coloured by value; a short one (the logits) gets its class names and values.
  void draw_strip(const Model& model, const std::vector<float>& values, PanelContext& context) {
    view_ = "strip";
    const float scale = context.ui_scale;
    const std::size_t n = values.size();
    const ImVec2 room = ImGui::GetContentRegionAvail();
    ImDrawList* draw = ImGui::GetWindowDrawList();
    if (n <= 16) {
      const float cell = std::floor(std::min(room.x / float(n), 56.f * scale));
      const ImVec2 origin = ImGui::GetCursorScreenPos();
      const float line = ImGui::GetTextLineHeight();
      ImGui::Dummy(ImVec2(cell * float(n), cell + 2.f * line + 8.f));
      const std::vector<std::string>& names = model.card.class_names;
      for (std::size_t i = 0; i < n; ++i) {
        const ImVec2 a(origin.x + cell * float(i), origin.y);
        draw->AddRectFilled(a, ImVec2(a.x + cell - 2.f, a.y + cell - 2.f), widgets::heat_color(shown_scale_.at(values[i])));
        char text[32];
        std::snprintf(text, sizeof text, "%.2f", values[i]);
        draw->AddText(ImVec2(a.x, a.y + cell + 2.f), ImGui::GetColorU32(ImGuiCol_Text), text);
        std::string name = i < names.size() ? tr(names[i]) : std::to_string(i);
        std::size_t cut = std::min<std::size_t>(name.size(), 6);  // 6 bytes: 6 letters or 2 Chinese characters
        while (cut < name.size() && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) --cut;
        name.resize(cut);
        draw->AddText(ImVec2(a.x, a.y + cell + line + 4.f), ImGui::GetColorU32(ImGuiCol_TextDisabled), name.c_str());
      }
      maps_drawn_ = 1;
      if (std::size_t(shown_layer_) + 1 == model.layers.size())
        ImGui::TextWrapped("%s", tr("These are the logits: softmax turns them into the probabilities (see the activations panel)."));
      return;
    }
    // Rows of cells, as many per row as makes the cells largest in the room there is (at most 28 px).
    const std::size_t shown = std::min<std::size_t>(n, 4096);
    const float height = room.y - 2.f * ImGui::GetTextLineHeightWithSpacing();
    int columns = int(shown);
    float cell = 0.f;
    for (int c = 1; c <= int(shown); ++c) {
      const int r = int((shown + std::size_t(c) - 1) / std::size_t(c));
      const float fit = std::min(room.x / float(c), height / float(r));
      if (fit > cell) cell = fit, columns = c;
    }
    cell = std::floor(std::max(2.f, std::min(cell, 28.f * scale)));
    columns = std::max(1, std::min(int(shown), int(room.x / cell)));
    const int rows = int((shown + std::size_t(columns) - 1) / std::size_t(columns));
    const ImVec2 origin = ImGui::GetCursorScreenPos();
    ImGui::InvisibleButton("strip", ImVec2(cell * float(columns), cell * float(rows)));
    first_map_ = item_rect();
    const int full_rows = int(shown / std::size_t(columns)), rest = int(shown % std::size_t(columns));
    draw->AddRectFilled(origin, ImVec2(origin.x + cell * float(columns), origin.y + cell * float(full_rows)), widgets::heat_color(0.f));
    if (rest)
      draw->AddRectFilled(ImVec2(origin.x, origin.y + cell * float(full_rows)),
                          ImVec2(origin.x + cell * float(rest), origin.y + cell * float(full_rows + 1)), widgets::heat_color(0.f));
    for (std::size_t i = 0; i < shown; ++i) {
      const float t = shown_scale_.at(values[i]);
      if (t < 0.01f) continue;
      const ImVec2 a(origin.x + cell * float(i % std::size_t(columns)), origin.y + cell * float(i / std::size_t(columns)));
      draw->AddRectFilled(a, ImVec2(a.x + cell, a.y + cell), widgets::heat_color(t));
    }
    if (ImGui::IsItemHovered()) {
      const ImVec2 mouse = ImGui::GetIO().MousePos;
      const std::size_t unit = std::size_t((mouse.y - origin.y) / cell) * std::size_t(columns) + std::size_t((mouse.x - origin.x) / cell);
      if (unit < shown) ImGui::SetTooltip(tr("unit %zu: %.4g"), unit, values[unit]);
    }
    maps_drawn_ = 1;
    std::size_t zeros = 0;
    for (float v : values) zeros += v == 0.f;
    ImGui::TextDisabled(tr("%zu values in rows of %d%s; %zu are exactly 0"), n, columns,
                        shown < n ? tr(" (the first 4096 shown)") : "", zeros);
  }

  bool has_model_ = false, has_drawing_ = false, has_activations_ = false;
  std::uint64_t generation_ = ~0ull;
  std::string model_name_, shapes_error_, view_ = "none";
  std::vector<ActivationShape> shapes_;
  std::vector<LayerRow> layers_;
  std::int64_t parameters_ = 0;
  const std::vector<std::vector<float>>* activations_ = nullptr;  // this frame's, from the context
  int selected_layer_ = -1, hovered_layer_ = -1, shown_layer_ = -1, selected_channel_ = -1;
  int maps_drawn_ = 0;
  Scale shown_scale_;
  Rect first_map_;
};

}  // namespace

std::unique_ptr<TeachingPanel> make_network_panel() { return std::make_unique<Panel>(); }

}  // namespace digitlab::app
