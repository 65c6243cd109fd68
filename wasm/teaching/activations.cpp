// Activation functions and softmax for the activations panel (activations.hpp), in double so that the
// plots and the readout agree with a hand calculation. Read next: panel_activations.cpp.
#include "teaching/activations.hpp"

#include <algorithm>
#include <cmath>

namespace digitlab::app {

namespace {

// tanh through exp, which the core links anyway (std::tanh would add its own code to the wasm).
double tanh_of(double x) {
  const double e = std::exp(-2.0 * std::abs(x));  // in (0, 1]: no overflow
  const double t = (1.0 - e) / (1.0 + e);
  return x < 0 ? -t : t;
}

}  // namespace

const std::vector<ActivationInfo>& activation_list() {
  static const std::vector<ActivationInfo> list = {
      {Activation::sigmoid, "sigmoid", "Sigmoid", "f(x) = 1 / (1 + e^-x)", "f'(x) = f(x) (1 - f(x))",
       "Squashes any number into (0, 1). The slope is at most 0.25 (at x = 0) and almost 0 for |x| > 5: "
       "deep stacks of sigmoids learn slowly (vanishing gradients)."},
      {Activation::tanh, "tanh", "Tanh", "f(x) = (e^x - e^-x) / (e^x + e^-x)", "f'(x) = 1 - f(x)^2",
       "Like sigmoid but centred on 0, output in (-1, 1), slope 1 at x = 0; it still saturates for large |x|."},
      {Activation::relu, "relu", "ReLU", "f(x) = max(0, x)", "f'(x) = 1 if x > 0, else 0",
       "Cheap and does not saturate for x > 0, which is why the MNIST networks here use it. A unit whose input "
       "stays negative gets no gradient at all (a 'dead' ReLU)."},
      {Activation::leaky_relu, "leaky_relu", "Leaky ReLU", "f(x) = x if x > 0, else alpha * x",
       "f'(x) = 1 if x > 0, else alpha",
       "ReLU with a small slope alpha for negative inputs, so no unit dies. Drag alpha: 0 gives ReLU, 1 gives the "
       "identity (then the network is just linear)."},
      {Activation::softmax, "softmax", "Softmax", "p_i = e^(z_i / T) / sum_j e^(z_j / T)",
       "dp_i/dz_j = p_i (delta_ij - p_j) / T",
       "Turns the last layer's scores (logits) into probabilities that sum to 1. A low temperature T sharpens "
       "them towards the largest score, a high one flattens them towards 1/n."},
  };
  return list;
}

const ActivationInfo& activation_info(Activation id) {
  for (const ActivationInfo& info : activation_list())
    if (info.id == id) return info;
  return activation_list().front();
}

double activation_value(Activation id, double x, double alpha) {
  switch (id) {
    case Activation::sigmoid: return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x));
    case Activation::tanh: return tanh_of(x);
    case Activation::relu: return x > 0 ? x : 0.0;
    case Activation::leaky_relu: return x > 0 ? x : alpha * x;
    case Activation::softmax: return 0.0;
  }
  return 0.0;
}

double activation_derivative(Activation id, double x, double alpha) {
  switch (id) {
    case Activation::sigmoid: {
      const double f = activation_value(id, x, alpha);
      return f * (1.0 - f);
    }
    case Activation::tanh: {
      const double f = tanh_of(x);
      return 1.0 - f * f;
    }
    case Activation::relu: return x > 0 ? 1.0 : 0.0;
    case Activation::leaky_relu: return x > 0 ? 1.0 : alpha;
    case Activation::softmax: return 0.0;
  }
  return 0.0;
}

std::vector<double> softmax(const std::vector<double>& z, double temperature) {
  const double t = std::max(temperature, 1e-3);
  std::vector<double> p(z.size(), 0.0);
  if (z.empty()) return p;
  const double largest = *std::max_element(z.begin(), z.end());
  double sum = 0;
  for (std::size_t i = 0; i < z.size(); ++i) sum += p[i] = std::exp((z[i] - largest) / t);
  for (double& v : p) v /= sum;  // sum >= 1: the largest term is e^0
  return p;
}

std::vector<double> softmax_jacobian(const std::vector<double>& p, double temperature) {
  const double t = std::max(temperature, 1e-3);
  const std::size_t n = p.size();
  std::vector<double> jacobian(n * n, 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) jacobian[i * n + j] = p[i] * ((i == j ? 1.0 : 0.0) - p[j]) / t;
  return jacobian;
}

}  // namespace digitlab::app
