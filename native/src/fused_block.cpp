// BatchNorm2d + ReLU + MaxPool2d(2) fused for training (see fused_block.hpp). Why: run as three PyTorch
// modules, each block of the CNN writes the full-size normalised tensor, zero-fills a full-size gradient
// for the pool's backward and makes several more passes; these passes, not the convolutions' arithmetic,
// were a third of a training step on CPU. Here the full-size tensor is read a few times and written once
// (its gradient); everything else is quarter size.
//
// Layout: channels-last, so image n is a (H*W, C) row-major table and every inner loop runs over the C
// contiguous channels (vectorised by the compiler; target_clones picks AVX-512 (Skylake-X and newer), AVX2 or SSE2 at run time).
//
// Forward (per channel c, M = N*H*W): mean, biased var (two passes, double accumulators), invstd =
//   1/sqrt(var + eps); y = x*scale + shift with scale = gamma*invstd, shift = beta - mean*scale; per 2x2
//   window keep the max of y and which of the four it was; out = relu(max).
// Backward: the gradient reaches y only at each window's argmax, and only where out > 0. With g that
//   gradient (zero elsewhere), PyTorch's batch-norm backward is
//   dx = (g - mean_g - (x - mean) * k) * gamma * invstd,   k = sum(g * (x - mean)) * invstd^2 / M,
//   dgamma = sum(g * (x - mean)) * invstd,  dbeta = sum(g).
// Read next: network.cpp (where the CNN's forward pass calls it).
#include "fused_block.hpp"

#include <cmath>
#include <cstdint>
#include <vector>

#include <ATen/Parallel.h>

namespace digitlab::trainer {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define DIGITLAB_VECTOR_CLONES __attribute__((target_clones("arch=skylake-avx512", "avx2", "default")))
#else
#define DIGITLAB_VECTOR_CLONES
#endif

// ---- per-image kernels: x points at image n's (H*W, C) table ----------------------------------------------

DIGITLAB_VECTOR_CLONES
void sum_rows(const float* x, std::int64_t rows, std::int64_t channels, double* sum) {
  for (std::int64_t r = 0; r < rows; ++r, x += channels)
    for (std::int64_t c = 0; c < channels; ++c) sum[c] += x[c];
}

DIGITLAB_VECTOR_CLONES
void sum_centered_squares(const float* x, std::int64_t rows, std::int64_t channels, const double* mean,
                          double* sum) {
  for (std::int64_t r = 0; r < rows; ++r, x += channels)
    for (std::int64_t c = 0; c < channels; ++c) {
      const double d = x[c] - mean[c];
      sum[c] += d * d;
    }
}

struct Geometry {
  std::int64_t height, width, channels, out_height, out_width;
};

DIGITLAB_VECTOR_CLONES
void forward_image(const float* __restrict x, const Geometry& g, const float* __restrict scale,
                   const float* __restrict shift, float* __restrict out, std::uint8_t* __restrict argmax) {
  const std::int64_t C = g.channels, row = g.width * C;
  for (std::int64_t oh = 0; oh < g.out_height; ++oh)
    for (std::int64_t ow = 0; ow < g.out_width; ++ow) {
      const float* __restrict p0 = x + (2 * oh) * row + (2 * ow) * C;  // window (0,0); (0,1) +C, (1,0) +row
      const float* __restrict p1 = p0 + C;
      const float* __restrict p2 = p0 + row;
      const float* __restrict p3 = p2 + C;
      float* __restrict o = out + (oh * g.out_width + ow) * C;
      std::uint8_t* __restrict a = argmax + (oh * g.out_width + ow) * C;
      for (std::int64_t c = 0; c < C; ++c) {
        // Scan order and strict ">" as PyTorch's max_pool2d: ties keep the first element.
        const float y0 = p0[c] * scale[c] + shift[c], y1 = p1[c] * scale[c] + shift[c];
        const float y2 = p2[c] * scale[c] + shift[c], y3 = p3[c] * scale[c] + shift[c];
        // Branch-free (selects on values already loaded) so that the compiler vectorises the loop.
        std::int32_t which = 0;
        float best = y0;
        which = y1 > best ? 1 : which;
        best = y1 > best ? y1 : best;
        which = y2 > best ? 2 : which;
        best = y2 > best ? y2 : best;
        which = y3 > best ? 3 : which;
        best = y3 > best ? y3 : best;
        o[c] = best > 0.f ? best : 0.f;
        a[c] = static_cast<std::uint8_t>(which);
      }
    }
}

DIGITLAB_VECTOR_CLONES
void backward_sums(const float* __restrict x, const float* __restrict grad_out, const float* __restrict out,
                   const std::uint8_t* __restrict argmax, const Geometry& g, const float* __restrict mean,
                   double* __restrict sum_g, double* __restrict sum_g_centered) {
  const std::int64_t C = g.channels, row = g.width * C;
  for (std::int64_t oh = 0; oh < g.out_height; ++oh)
    for (std::int64_t ow = 0; ow < g.out_width; ++ow) {
      const std::int64_t at = (oh * g.out_width + ow) * C;
      const float* __restrict p0 = x + (2 * oh) * row + (2 * ow) * C;
      const float* __restrict p1 = p0 + C;
      const float* __restrict p2 = p0 + row;
      const float* __restrict p3 = p2 + C;
      for (std::int64_t c = 0; c < C; ++c) {
        // Every value loaded, then selected: contiguous loads and no branches, so the loop vectorises.
        const std::int32_t which = argmax[at + c];
        const float v0 = p0[c], v1 = p1[c], v2 = p2[c], v3 = p3[c], upstream = grad_out[at + c], o = out[at + c];
        float chosen = v0;
        chosen = which == 1 ? v1 : chosen;
        chosen = which == 2 ? v2 : chosen;
        chosen = which == 3 ? v3 : chosen;
        const float gradient = o > 0.f ? upstream : 0.f;
        sum_g[c] += gradient;
        sum_g_centered[c] += double(gradient * (chosen - mean[c]));
      }
    }
}

// dx for one image: the batch-norm terms everywhere, plus g at the argmax positions.
DIGITLAB_VECTOR_CLONES
void backward_image(const float* __restrict x, const float* __restrict grad_out, const float* __restrict out,
                    const std::uint8_t* __restrict argmax, const Geometry& g, const float* __restrict mean,
                    const float* __restrict mean_g, const float* __restrict k, const float* __restrict coef,
                    float* __restrict dx) {
  const std::int64_t C = g.channels, row = g.width * C;
  for (std::int64_t oh = 0; oh < g.out_height; ++oh)
    for (std::int64_t ow = 0; ow < g.out_width; ++ow) {
      const std::int64_t at = (oh * g.out_width + ow) * C;
      const std::int64_t base = (2 * oh) * row + (2 * ow) * C;
      for (int position = 0; position < 4; ++position) {
        const std::int64_t offset = base + (position & 1) * C + (position >> 1) * row;
        const float* __restrict xp = x + offset;
        float* __restrict dxp = dx + offset;
        for (std::int64_t c = 0; c < C; ++c) {
          const float upstream = grad_out[at + c];
          const bool receives = (std::int32_t(argmax[at + c]) == position) & (out[at + c] > 0.f);
          const float gradient = receives ? upstream : 0.f;
          dxp[c] = (gradient - mean_g[c] - (xp[c] - mean[c]) * k[c]) * coef[c];
        }
      }
    }
  // Odd heights or widths: the last row or column is in no window and receives no gradient.
  auto no_gradient = [&](std::int64_t h, std::int64_t w) {
    const float* __restrict xp = x + h * row + w * C;
    float* __restrict dxp = dx + h * row + w * C;
    for (std::int64_t c = 0; c < C; ++c) dxp[c] = (0.f - mean_g[c] - (xp[c] - mean[c]) * k[c]) * coef[c];
  };
  for (std::int64_t h = 0; h < g.height; ++h)
    for (std::int64_t w = 0; w < g.width; ++w)
      if (h >= 2 * g.out_height || w >= 2 * g.out_width) no_gradient(h, w);
}

torch::Tensor channels_last(const torch::Tensor& tensor) {
  if (tensor.strides() == c10::get_channels_last_strides_2d(tensor.sizes())) return tensor;
  torch::Tensor out = torch::empty(tensor.sizes(), tensor.options().memory_format(at::MemoryFormat::ChannelsLast));
  out.copy_(tensor);
  return out;
}

Geometry geometry_of(const torch::Tensor& input) {
  return {input.size(2), input.size(3), input.size(1), input.size(2) / 2, input.size(3) / 2};
}

// Per-image partial sums (N, C) added in image order: the result does not depend on the thread count.
std::vector<double> add_partials(const std::vector<double>& partial, std::int64_t images, std::int64_t channels) {
  std::vector<double> total(channels, 0.0);
  for (std::int64_t n = 0; n < images; ++n)
    for (std::int64_t c = 0; c < channels; ++c) total[c] += partial[n * channels + c];
  return total;
}

struct BatchNormReluPool : public torch::autograd::Function<BatchNormReluPool> {
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor input, torch::Tensor weight, torch::Tensor bias,
                               torch::Tensor running_mean, torch::Tensor running_var, double momentum, double eps) {
    input = channels_last(input);
    const std::int64_t N = input.size(0);
    const Geometry g = geometry_of(input);
    const std::int64_t C = g.channels, pixels = g.height * g.width, count = N * pixels;
    const float* x = input.data_ptr<float>();

    std::vector<double> partial(N * C, 0.0);
    at::parallel_for(0, N, 1, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t n = begin; n < end; ++n) sum_rows(x + n * pixels * C, pixels, C, &partial[n * C]);
    });
    std::vector<double> mean = add_partials(partial, N, C);
    for (double& m : mean) m /= double(count);
    std::fill(partial.begin(), partial.end(), 0.0);
    at::parallel_for(0, N, 1, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t n = begin; n < end; ++n)
        sum_centered_squares(x + n * pixels * C, pixels, C, mean.data(), &partial[n * C]);
    });
    std::vector<double> variance = add_partials(partial, N, C);
    for (double& v : variance) v /= double(count);

    torch::Tensor mean_tensor = torch::empty({C}, torch::kFloat32), invstd_tensor = torch::empty({C}, torch::kFloat32);
    torch::Tensor scale = torch::empty({C}, torch::kFloat32), shift = torch::empty({C}, torch::kFloat32);
    {
      torch::Tensor gamma = weight.detach().contiguous(), beta = bias.detach().contiguous();
      for (std::int64_t c = 0; c < C; ++c) {
        const double invstd = 1.0 / std::sqrt(variance[c] + eps);
        mean_tensor.data_ptr<float>()[c] = static_cast<float>(mean[c]);
        invstd_tensor.data_ptr<float>()[c] = static_cast<float>(invstd);
        scale.data_ptr<float>()[c] = static_cast<float>(gamma.data_ptr<float>()[c] * invstd);
        shift.data_ptr<float>()[c] =
            static_cast<float>(beta.data_ptr<float>()[c] - mean[c] * gamma.data_ptr<float>()[c] * invstd);
      }
    }
    {
      // PyTorch's running statistics: exponential average with the unbiased variance.
      torch::NoGradGuard no_grad;
      torch::Tensor batch_mean = torch::tensor(mean, torch::kFloat64).to(torch::kFloat32);
      torch::Tensor batch_var = torch::tensor(variance, torch::kFloat64).mul(double(count) / double(count - 1))
                                    .to(torch::kFloat32);
      running_mean.mul_(1 - momentum).add_(batch_mean, momentum);
      running_var.mul_(1 - momentum).add_(batch_var, momentum);
    }

    torch::Tensor output = torch::empty({N, C, g.out_height, g.out_width},
                                        input.options().memory_format(at::MemoryFormat::ChannelsLast));
    torch::Tensor argmax = torch::empty({N, g.out_height, g.out_width, C}, torch::kUInt8);
    float* out = output.data_ptr<float>();
    std::uint8_t* which = argmax.data_ptr<std::uint8_t>();
    const std::int64_t out_pixels = g.out_height * g.out_width;
    at::parallel_for(0, N, 1, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t n = begin; n < end; ++n)
        forward_image(x + n * pixels * C, g, scale.data_ptr<float>(), shift.data_ptr<float>(),
                      out + n * out_pixels * C, which + n * out_pixels * C);
    });
    ctx->save_for_backward({input, weight, output});
    ctx->saved_data["mean"] = mean_tensor;
    ctx->saved_data["invstd"] = invstd_tensor;
    ctx->saved_data["argmax"] = argmax;
    return output;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const variable_list saved = ctx->get_saved_variables();
    const torch::Tensor& input = saved[0];
    const torch::Tensor gamma = saved[1].detach().contiguous();
    const torch::Tensor& output = saved[2];
    const torch::Tensor mean = ctx->saved_data["mean"].toTensor();
    const torch::Tensor invstd = ctx->saved_data["invstd"].toTensor();
    const torch::Tensor argmax = ctx->saved_data["argmax"].toTensor();
    const torch::Tensor grad_out = channels_last(grad_outputs[0].contiguous(at::MemoryFormat::ChannelsLast));

    const std::int64_t N = input.size(0);
    const Geometry g = geometry_of(input);
    const std::int64_t C = g.channels, pixels = g.height * g.width, out_pixels = g.out_height * g.out_width;
    const double count = double(N * pixels);
    const float* x = input.data_ptr<float>();
    const float* go = grad_out.data_ptr<float>();
    const float* out = output.data_ptr<float>();
    const std::uint8_t* which = argmax.data_ptr<std::uint8_t>();

    std::vector<double> partial_g(N * C, 0.0), partial_gc(N * C, 0.0);
    at::parallel_for(0, N, 1, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t n = begin; n < end; ++n)
        backward_sums(x + n * pixels * C, go + n * out_pixels * C, out + n * out_pixels * C,
                      which + n * out_pixels * C, g, mean.data_ptr<float>(), &partial_g[n * C], &partial_gc[n * C]);
    });
    const std::vector<double> sum_g = add_partials(partial_g, N, C), dot = add_partials(partial_gc, N, C);

    torch::Tensor grad_gamma = torch::empty({C}, torch::kFloat32), grad_beta = torch::empty({C}, torch::kFloat32);
    std::vector<float> mean_g(C), k(C), coef(C);
    for (std::int64_t c = 0; c < C; ++c) {
      const double s = invstd.data_ptr<float>()[c];
      mean_g[c] = static_cast<float>(sum_g[c] / count);
      k[c] = static_cast<float>(dot[c] * s * s / count);
      coef[c] = static_cast<float>(s * gamma.data_ptr<float>()[c]);
      grad_gamma.data_ptr<float>()[c] = static_cast<float>(dot[c] * s);
      grad_beta.data_ptr<float>()[c] = static_cast<float>(sum_g[c]);
    }
    torch::Tensor grad_input = torch::empty(input.sizes(), input.options().memory_format(at::MemoryFormat::ChannelsLast));
    float* dx = grad_input.data_ptr<float>();
    at::parallel_for(0, N, 1, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t n = begin; n < end; ++n)
        backward_image(x + n * pixels * C, go + n * out_pixels * C, out + n * out_pixels * C,
                       which + n * out_pixels * C, g, mean.data_ptr<float>(), mean_g.data(), k.data(), coef.data(),
                       dx + n * pixels * C);
    });
    // One gradient per forward() argument: input, weight, bias; none for the statistics and the numbers.
    return {grad_input, grad_gamma, grad_beta, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

bool can_fuse_batch_norm_relu_max_pool(const torch::Tensor& input) {
  return input.device().is_cpu() && input.scalar_type() == torch::kFloat32 && input.dim() == 4 &&
         input.size(0) > 0 && input.size(2) >= 2 && input.size(3) >= 2 && input.size(1) <= 65536 &&
         input.strides() == c10::get_channels_last_strides_2d(input.sizes());
}

torch::Tensor batch_norm_relu_max_pool(const torch::Tensor& input, torch::nn::BatchNorm2dImpl& batch_norm) {
  const auto& options = batch_norm.options;
  {
    torch::NoGradGuard no_grad;
    batch_norm.num_batches_tracked.add_(1);
  }
  // momentum() is optional in PyTorch (None: cumulative average); the tutorial's modules use 0.1.
  const double momentum = options.momentum().has_value()
                              ? options.momentum().value()
                              : 1.0 / static_cast<double>(batch_norm.num_batches_tracked.item<std::int64_t>());
  return BatchNormReluPool::apply(input, batch_norm.weight, batch_norm.bias, batch_norm.running_mean,
                                  batch_norm.running_var, momentum, options.eps());
}

}  // namespace digitlab::trainer
