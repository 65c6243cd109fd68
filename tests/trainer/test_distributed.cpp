// distributed.hpp's pieces with real Gloo groups, the ranks as threads of this process on one HashStore:
// the gradient averager (several buckets, the loss riding along) gives every rank the mean of the ranks'
// gradients, and synchronised batch norm on two halves of a batch gives what BatchNorm gives on the whole
// batch (outputs, input gradients, summed weight gradients, running statistics). The multi-process runs
// are in distributed_test.sh. Read next: native/src/distributed.cpp.
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <torch/csrc/distributed/c10d/HashStore.hpp>
#include <torch/torch.h>

#include "distributed.hpp"

// Last: glog (through c10) defines its own CHECK, which Catch2's must replace.
#include <catch2/catch.hpp>

using namespace digitlab::trainer;

namespace {

// body(rank, group) on `world` threads, each rank with its own group. Returns each rank's failure text
// (empty: fine); Catch2's assertions stay on the main thread.
std::vector<std::string> on_ranks(int world, const std::function<std::string(int, DataParallel&)>& body) {
  auto store = c10::make_intrusive<c10d::HashStore>();
  std::vector<std::string> failures(world);
  std::vector<std::thread> threads;
  for (int rank = 0; rank < world; ++rank)
    threads.emplace_back([&, rank] {
      try {
        auto group = DataParallel::on_store(store, rank, world, std::chrono::seconds(30));
        failures[rank] = group ? body(rank, *group.value()) : "no group: " + group.error().message;
      } catch (const std::exception& error) {
        failures[rank] = std::string("exception: ") + error.what();
      }
    });
  for (auto& thread : threads) thread.join();
  return failures;
}

double max_difference(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

}  // namespace

TEST_CASE("the gradient averager gives every rank the mean gradient, bucket by bucket", "[distributed]") {
  const int world = 3;
  // Filled from the back until a bucket holds 1 kB or more: {260}, {7, 300}, {1000}.
  const std::vector<std::int64_t> sizes = {1000, 300, 7, 260};
  const auto failures = on_ranks(world, [&](int rank, DataParallel& group) -> std::string {
    std::vector<torch::Tensor> parameters;
    for (std::int64_t size : sizes) parameters.push_back(torch::zeros({size}, torch::requires_grad()));
    GradientAverager averager(std::shared_ptr<DataParallel>(&group, [](DataParallel*) {}), parameters, 1024);
    if (averager.bucket_count() != 3) return fmt::format("{} buckets, expected 3", averager.bucket_count());
    for (int step = 0; step < 2; ++step) {  // twice: the buffers are reused
      for (auto& parameter : parameters) parameter.mutable_grad() = torch::Tensor();
      // d loss / d p_k[i] = (rank + 1) * (k + 1) * (i + step): the mean over ranks is 2 * (k + 1) * (i + step).
      torch::Tensor loss = torch::zeros({});
      for (std::size_t k = 0; k < parameters.size(); ++k)
        loss = loss + (parameters[k] * (torch::arange(sizes[k], torch::kFloat32) + step) * float((rank + 1) * (k + 1))).sum();
      averager.begin_step(torch::full({}, float(rank + 1)));
      loss.backward();
      const float global_loss = averager.finish().item<float>();
      if (global_loss != 2.0f) return fmt::format("the averaged loss is {}, expected 2", global_loss);
      for (std::size_t k = 0; k < parameters.size(); ++k) {
        torch::Tensor expected = (torch::arange(sizes[k], torch::kFloat32) + step) * float(2 * (k + 1));
        const double difference = max_difference(parameters[k].grad(), expected);
        if (difference > 1e-4)
          return fmt::format("step {}, parameter {}: max |grad - mean| = {}", step, k, difference);
      }
    }
    return "";
  });
  for (int rank = 0; rank < world; ++rank) {
    INFO("rank " << rank << ": " << failures[rank]);
    CHECK(failures[rank].empty());
  }
}

TEST_CASE("synchronised batch norm on two halves equals batch norm on the whole batch", "[distributed]") {
  for (const bool two_d : {true, false}) {
    torch::manual_seed(7);
    const std::vector<std::int64_t> shape = two_d ? std::vector<std::int64_t>{8, 3, 5, 5} : std::vector<std::int64_t>{8, 6};
    const std::int64_t channels = shape[1];
    torch::Tensor input = torch::randn(shape) * 2 + 0.5;
    torch::Tensor upstream = torch::randn(shape);
    torch::Tensor weight = torch::rand({channels}) + 0.5, bias = torch::randn({channels});

    // The reference: one process, the whole batch.
    torch::Tensor x = input.clone().requires_grad_(true), w = weight.clone().requires_grad_(true),
                  b = bias.clone().requires_grad_(true);
    torch::Tensor running_mean = torch::zeros({channels}), running_var = torch::ones({channels});
    torch::Tensor y = torch::batch_norm(x, w, b, running_mean, running_var, true, 0.1, 1e-5, false);
    (y * upstream).sum().backward();

    std::vector<torch::Tensor> outputs(2), input_grads(2), weight_grads(2), bias_grads(2), means(2), vars(2);
    const auto failures = on_ranks(2, [&](int rank, DataParallel& group) -> std::string {
      torch::Tensor half = input.narrow(0, rank * 4, 4).clone().requires_grad_(true);
      torch::Tensor local_w = weight.clone().requires_grad_(true), local_b = bias.clone().requires_grad_(true);
      torch::Tensor local_mean = torch::zeros({channels}), local_var = torch::ones({channels});
      torch::Tensor tracked = torch::zeros({}, torch::kInt64);
      torch::Tensor out = sync_batch_norm(half, local_w, local_b, local_mean, local_var, tracked, 1e-5, 0.1, group);
      (out * upstream.narrow(0, rank * 4, 4)).sum().backward();
      outputs[rank] = out.detach();
      input_grads[rank] = half.grad();
      weight_grads[rank] = local_w.grad();
      bias_grads[rank] = local_b.grad();
      means[rank] = local_mean;
      vars[rank] = local_var;
      return tracked.item<std::int64_t>() == 1 ? "" : "num_batches_tracked was not counted";
    });
    for (const auto& failure : failures) CHECK(failure.empty());
    INFO((two_d ? "(N, C, H, W)" : "(N, C)"));
    const double out_diff = max_difference(torch::cat(outputs), y);
    const double grad_diff = max_difference(torch::cat(input_grads), x.grad());
    const double weight_diff = max_difference(weight_grads[0] + weight_grads[1], w.grad());
    const double bias_diff = max_difference(bias_grads[0] + bias_grads[1], b.grad());
    const double mean_diff = std::max(max_difference(means[0], running_mean), max_difference(means[1], running_mean));
    const double var_diff = std::max(max_difference(vars[0], running_var), max_difference(vars[1], running_var));
    INFO("max differences: output " << out_diff << ", input gradient " << grad_diff << ", weight gradient "
                                    << weight_diff << ", bias gradient " << bias_diff << ", running mean "
                                    << mean_diff << ", running var " << var_diff);
    CHECK(out_diff < 1e-5);
    CHECK(grad_diff < 1e-5);
    CHECK(weight_diff < 1e-4);
    CHECK(bias_diff < 1e-4);
    CHECK(mean_diff < 1e-6);
    CHECK(var_diff < 1e-6);
  }
}

TEST_CASE("agreement: one rank's failure reaches every rank, with its code", "[distributed]") {
  const auto failures = on_ranks(2, [](int rank, DataParallel& group) -> std::string {
    digitlab::Status mine = digitlab::Ok{};
    if (rank == 1) mine = digitlab::make_error(digitlab::ErrorCode::bad_argument, "x", 0, "rank one's mistake");
    digitlab::Status agreed = group.agree(mine, "a test phase");
    if (agreed) return "agree() passed although rank 1 failed";
    if (agreed.error().code != digitlab::ErrorCode::bad_argument) return "the code was not carried";
    if (rank == 0 && agreed.error().message.find("rank 1 stopped (a test phase): rank one's mistake") == std::string::npos)
      return "rank 0 got: " + agreed.error().message;
    nlohmann::json options = {{"lr", rank == 0 ? 0.01 : 0.1}};
    digitlab::Status same = group.check_same(options, "recipe");
    if (same) return "check_same passed on different options";
    return group.agree(digitlab::Ok{}, "after") ? "" : "a clean agreement failed";
  });
  for (const auto& failure : failures) CHECK(failure.empty());
}
