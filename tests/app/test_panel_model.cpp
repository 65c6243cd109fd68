// The model panel's part for models imported from PyTorch: what a state_dict cannot say (the input
// normalisation, the activation between linears) is assumed, shown, and can be changed; the model then
// reloads under its name. Read next: wasm/app/app.cpp (draw_import_assumptions), tests/browser/pytorch_import.test.mjs.
#include "app_harness.hpp"
#include "digitlab/pytorch.hpp"

namespace digitlab::app::testing {
namespace {

std::vector<std::uint8_t> imported_mlp() {
  Model model;
  model.card = make_mnist_card("mlp");
  model.card.trainer_version = std::string(pytorch::kImportedTrainer) + " from model.pth";
  model.layers = {make_simple_layer(LayerKind::flatten), make_linear_layer(784, 16), make_simple_layer(LayerKind::relu),
                  make_linear_layer(16, 10)};
  randomize_parameters(model, 7);
  return write_weights(model).value();
}

Status open(App& app, const std::string& name, const std::vector<std::uint8_t>& bytes) {
  return app.open_user_file(name, ByteSpan(bytes.data(), bytes.size()));
}

}  // namespace

TEST_CASE("an imported model's assumed normalisation and activation can be changed, and it reloads", "[app][import]") {
  StartedApp started({}, "?panels=draw,prediction,model");
  App& app = started.app;
  REQUIRE(open(app, "model.pth", imported_mlp()));
  started.imgui.frame(app);
  draw_line(app);
  started.imgui.frame(app);
  const json before = state_of(app);
  REQUIRE(before["prediction"].is_number());
  CHECK(app.catalog().active().model.card.normalize_mean == 0.5f);

  REQUIRE(app.set_import_assumptions(0.1307f, 0.3081f, LayerKind::sigmoid));
  started.imgui.frame(app);
  const Model& model = app.catalog().active().model;
  CHECK(app.catalog().active_entry()->name == "model.pth");
  CHECK(app.catalog().entries().size() == 1);  // replaced in its entry, not added
  CHECK(model.card.normalize_mean == 0.1307f);
  CHECK(model.card.normalize_std == 0.3081f);
  CHECK(model.layers[2].kind == LayerKind::sigmoid);
  CHECK(pytorch::is_imported(model.card));
  const json after = state_of(app);
  REQUIRE(after["prediction"].is_number());
  double change = 0;
  for (std::size_t i = 0; i < 10; ++i)
    change = std::max(change, std::abs(after["probabilities"][i].get<double>() - before["probabilities"][i].get<double>()));
  INFO("largest change in a probability: " << change);
  CHECK(change > 1e-4);  // the drawing was read again with the new model
}

TEST_CASE("assumptions are refused for a model that was not imported, and for a std of 0", "[app][import]") {
  StartedApp started({}, "?panels=draw,prediction,model");
  App& app = started.app;
  CHECK(app.set_import_assumptions(0.5f, 0.5f, LayerKind::relu).error().code == ErrorCode::bad_argument);  // no model
  REQUIRE(open(app, "digitlab.dlw", tiny_weights(3)));
  const Status not_imported = app.set_import_assumptions(0.5f, 0.5f, LayerKind::relu);
  REQUIRE_FALSE(not_imported);
  CHECK(not_imported.error().message.find("not imported") != std::string::npos);
  REQUIRE(open(app, "model.pth", imported_mlp()));
  CHECK(app.set_import_assumptions(0.5f, 0.f, LayerKind::relu).error().code == ErrorCode::bad_argument);
  CHECK(app.catalog().active().model.card.normalize_std == 0.5f);  // unchanged
  started.imgui.frame(app);  // the panel with the imported model's choices draws
}

}  // namespace digitlab::app::testing
