// The activations teaching panel: the functions and derivatives against finite differences, softmax at any
// temperature (sums to 1, no overflow, sharper when colder), its Jacobian, and the panel headless (choose
// a function, drag the alpha slider). Read next: wasm/teaching/activations.hpp, wasm/teaching/panel_activations.cpp.
#include <catch2/catch.hpp>

#include <cmath>

#include "app_harness.hpp"
#include "teaching/activations.hpp"

using namespace digitlab;
using namespace digitlab::app;
using namespace digitlab::app::testing;

TEST_CASE("activation derivatives match finite differences", "[panel][activations]") {
  const double h = 1e-6;
  for (const Activation id : {Activation::sigmoid, Activation::tanh, Activation::relu, Activation::leaky_relu}) {
    double worst = 0, worst_x = 0;
    for (double x = -8.0; x <= 8.0; x += 0.37) {  // never exactly 0, where ReLU has no derivative
      const double numeric = (activation_value(id, x + h, 0.2) - activation_value(id, x - h, 0.2)) / (2 * h);
      const double difference = std::abs(numeric - activation_derivative(id, x, 0.2));
      if (difference > worst) worst = difference, worst_x = x;
    }
    INFO(activation_info(id).name << ": largest difference " << worst << " at x = " << worst_x);
    CHECK(worst < 1e-6);
  }
  CHECK(activation_value(Activation::sigmoid, 0.0, 0) == Approx(0.5));
  CHECK(activation_value(Activation::sigmoid, -800.0, 0) == Approx(0.0));  // no overflow to NaN
  CHECK(activation_value(Activation::leaky_relu, -2.0, 0.1) == Approx(-0.2));
  CHECK(activation_derivative(Activation::leaky_relu, -2.0, 0.1) == Approx(0.1));
  CHECK(activation_derivative(Activation::relu, -2.0, 0.1) == 0.0);
}

TEST_CASE("softmax sums to 1 at any temperature and sharpens as it cools", "[panel][activations]") {
  const std::vector<double> z = {2.0, 1.0, 0.1, -1.0, 3.0, 0.5, 900.0, -900.0};
  double previous_top = 2.0;
  for (const double t : {0.001, 0.1, 0.5, 1.0, 2.0, 10.0, 1000.0}) {
    const std::vector<double> p = softmax(z, t);
    double sum = 0, top = 0;
    for (double v : p) {
      REQUIRE(std::isfinite(v));
      sum += v, top = std::max(top, v);
    }
    INFO("T = " << t << ": sum " << sum << ", top " << top);
    CHECK(sum == Approx(1.0).epsilon(1e-12));
    CHECK(top <= previous_top);
    previous_top = top;
  }
  const std::vector<double> flat = softmax({1.0, 2.0, 3.0}, 1e9);
  CHECK(flat[0] == Approx(1.0 / 3.0));
  CHECK(softmax({1.0, 2.0, 3.0}, 1.0)[2] == Approx(std::exp(3.0) / (std::exp(1.0) + std::exp(2.0) + std::exp(3.0))));
}

TEST_CASE("the softmax Jacobian matches finite differences", "[panel][activations]") {
  const std::vector<double> z = {0.3, -1.2, 2.0, 0.7};
  for (const double t : {0.5, 1.0, 3.0}) {
    const std::vector<double> p = softmax(z, t), jacobian = softmax_jacobian(p, t);
    double worst = 0;
    for (std::size_t j = 0; j < z.size(); ++j) {
      std::vector<double> up = z, down = z;
      up[j] += 1e-6, down[j] -= 1e-6;
      const std::vector<double> pu = softmax(up, t), pd = softmax(down, t);
      for (std::size_t i = 0; i < z.size(); ++i)
        worst = std::max(worst, std::abs((pu[i] - pd[i]) / 2e-6 - jacobian[i * z.size() + j]));
    }
    INFO("T = " << t << ": largest difference " << worst);
    CHECK(worst < 1e-6);
    CHECK(jacobian[0] == Approx(p[0] * (1 - p[0]) / t));
  }
}

TEST_CASE("activations panel: choose leaky ReLU, drag alpha, read softmax", "[panel][activations][ui]") {
  StartedApp started({entry("main", true)}, "?panels=activations");
  Headless& imgui = started.imgui;
  App& app = started.app;
  app.weights_arrived(0, tiny_weights(5));
  imgui.frame(app);
  json panel = state_of(app)["panel_state"]["activations"];
  INFO(panel.dump());
  CHECK(panel["function"] == "sigmoid");
  CHECK(panel["probability_sum"].get<double>() == Approx(1.0));
  CHECK(panel["inputs"].size() == 6);
  REQUIRE(panel["controls"].contains("leaky_relu"));

  const json button = panel["controls"]["leaky_relu"];
  imgui.click(app, button["x"].get<float>() + 5.f, button["y"].get<float>() + button["height"].get<float>() * 0.5f);
  panel = state_of(app)["panel_state"]["activations"];
  CHECK(panel["function"] == "leaky_relu");
  REQUIRE(panel["controls"].contains("alpha"));
  const json slider = panel["controls"]["alpha"];
  const float y = slider["y"].get<float>() + slider["height"].get<float>() * 0.5f;
  const double before = panel["alpha"].get<double>();
  imgui.mouse = ImVec2(slider["x"].get<float>() + 10.f, y);
  imgui.frame(app);
  imgui.mouse_down = true;
  imgui.frame(app);
  imgui.mouse = ImVec2(slider["x"].get<float>() + slider["width"].get<float>() * 0.8f, y);
  imgui.frame(app);
  imgui.mouse_down = false;
  imgui.frame(app);
  panel = state_of(app)["panel_state"]["activations"];
  CHECK(panel["alpha"].get<double>() > before + 0.3);

  // Hovering a plot gives the readout.
  imgui.mouse = ImVec2(300.f, 500.f);
  imgui.frame(app);
  panel = state_of(app)["panel_state"]["activations"];
  REQUIRE(panel.contains("readout"));
  const double x = panel["readout"]["x"].get<double>();
  CHECK(panel["readout"]["f"].get<double>() == Approx(x > 0 ? x : panel["alpha"].get<double>() * x));

  const json softmax_button = panel["controls"]["softmax"];
  imgui.click(app, softmax_button["x"].get<float>() + 5.f,
        softmax_button["y"].get<float>() + softmax_button["height"].get<float>() * 0.5f);
  panel = state_of(app)["panel_state"]["activations"];
  CHECK(panel["function"] == "softmax");
  CHECK(panel["controls"].contains("temperature"));
  double sum = 0;
  for (const auto& p : panel["probabilities"]) sum += p.get<double>();
  CHECK(sum == Approx(1.0));
}
