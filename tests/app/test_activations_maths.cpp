// The maths behind the activations teaching panel, ImGui-free (natively and as WebAssembly under node): the
// functions and derivatives against finite differences, softmax at any temperature (sums to 1, no overflow,
// sharper when colder) and its Jacobian. Read next: wasm/teaching/activations.hpp, test_panel_activations.cpp.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "teaching/activations.hpp"

using namespace digitlab::app;

TEST_CASE("activation derivatives match finite differences", "[app][activations]") {
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

TEST_CASE("softmax sums to 1 at any temperature and sharpens as it cools", "[app][activations]") {
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

TEST_CASE("the softmax Jacobian matches finite differences", "[app][activations]") {
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
