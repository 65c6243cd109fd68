// The maths behind the activations teaching panel: the scalar activation functions with their derivatives,
// and softmax with a temperature with its Jacobian. No ImGui here (tests/app/test_activations_maths.cpp).
// Read next: panel_activations.cpp (how it is shown).
#pragma once

#include <vector>

namespace digitlab::app {

enum class Activation { sigmoid, tanh, relu, leaky_relu, softmax };

struct ActivationInfo {
  Activation id;
  const char* name;        // in state_json and the tabs: "sigmoid"
  const char* title;       // "Leaky ReLU"
  const char* formula;     // ASCII: "f(x) = 1 / (1 + e^-x)"
  const char* derivative;  // ASCII: "f'(x) = f(x) (1 - f(x))"
  const char* note;        // one sentence a teacher can read out
};

const std::vector<ActivationInfo>& activation_list();
const ActivationInfo& activation_info(Activation id);

// f(x) and f'(x) for the scalar functions (softmax has none: it works on a vector). alpha: leaky ReLU's
// slope for x < 0. At x = 0 ReLU's derivative is taken as 0 and leaky ReLU's as alpha (as PyTorch does).
double activation_value(Activation id, double x, double alpha);
double activation_derivative(Activation id, double x, double alpha);

// p_i = exp(z_i / T) / sum_j exp(z_j / T), computed with the largest z subtracted first so that no
// exponential overflows. temperature must be > 0 (smaller values are clamped to 1e-3).
std::vector<double> softmax(const std::vector<double>& z, double temperature);
// The Jacobian d p_i / d z_j = p_i (delta_ij - p_j) / T, row-major (n, n); the diagonal is p_i (1 - p_i) / T.
std::vector<double> softmax_jacobian(const std::vector<double>& p, double temperature);

}  // namespace digitlab::app
