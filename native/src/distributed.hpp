// Data-parallel training on torch.distributed's C++ side (c10d), the way `torchrun` runs PyTorch scripts:
// who this process is (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), the rendezvous (c10d's
// TCPStore, served by rank 0), the process group (Gloo on CPU, NCCL when this LibTorch has CUDA), and what
// Python's DistributedDataParallel would give: rank 0's weights broadcast, gradients averaged in buckets
// while the backward pass is still running, synchronised batch norm, and errors that say which rank was lost.
// LibTorch's C++ API has the collectives but no DDP class; this is that class's training-loop half.
// Read next: distributed.cpp, launcher.hpp (`--nproc`), trainer.cpp (the step loop that uses both).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>
#include <torch/torch.h>

#include "digitlab/error.hpp"

namespace digitlab::trainer {

// This process's place in a data-parallel run, as torchrun describes it.
struct WorldInfo {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;  // the worker's index on its machine: picks its GPU
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
};

// From the environment: std::nullopt when neither RANK nor WORLD_SIZE is set (an ordinary single-process
// run). bad_argument, naming the variable and what to set, when one is missing, not a number or out of
// range (WORLD_SIZE 0, RANK >= WORLD_SIZE, a port outside 1-65535).
Result<std::optional<WorldInfo>> world_from_environment();

// A connected group of ranks. Every call is collective: each rank makes the same calls in the same order.
// Collectives that fail (a rank died, the network went away, the timeout passed) come back as errors that
// name the lost ranks where this machine can tell.
class DataParallel {
 public:
  // Rendezvous through a TCPStore at MASTER_ADDR:MASTER_PORT (rank 0 listens), then a Gloo group (CPU) or an
  // NCCL group (CUDA device). Waits up to `timeout` for every rank to arrive. Errors: the port is in use, the
  // address does not resolve, a rank did not come, this LibTorch has no such backend.
  static Result<std::shared_ptr<DataParallel>> connect(const WorldInfo& world, const torch::Device& device,
                                                       std::chrono::milliseconds timeout);
  // A Gloo group of `world_size` ranks on an existing store (the tests run ranks as threads of one process).
  static Result<std::shared_ptr<DataParallel>> on_store(const c10::intrusive_ptr<c10d::Store>& store, int rank,
                                                        int world_size, std::chrono::milliseconds timeout);
  ~DataParallel();

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  const std::string& backend() const { return backend_; }  // "gloo" | "nccl"
  std::chrono::milliseconds timeout() const { return timeout_; }

  // Every rank must train the same recipe on the same data: compares this rank's JSON with rank 0's and
  // returns, on every rank, an error naming the first key that differs and both values.
  Status check_same(const nlohmann::json& mine, const std::string& what);
  // Did every rank get through a phase (data loading, resume, writing outputs)? The first failing rank's
  // message, on every rank, so no rank waits for one that has already given up.
  Status agree(const Status& mine, const std::string& phase);
  // In place, from rank 0 to the others (parameters at the start, so every replica starts equal).
  Status broadcast_from_rank0(const std::vector<torch::Tensor>& tensors);
  Status barrier();

  // Launches an in-place sum over every rank (asynchronously with Gloo's own threads; NCCL on its stream).
  // Throws on failure: use it inside a guarded region (the step loop), then explain() the exception.
  c10::intrusive_ptr<c10d::Work> start_allreduce_sum(torch::Tensor& tensor);
  // Blocking sum, for the small ones (batch-norm statistics). Throws like start_allreduce_sum.
  void allreduce_sum(torch::Tensor& tensor);
  // A collective threw: what happened, which ranks are gone (local ranks no longer running), what to do.
  Error explain(const std::exception& error, const std::string& during) const;

 private:
  DataParallel() = default;
  struct Peer {
    std::string host;
    long pid = 0;
  };
  Status exchange_peers();
  std::string lost_ranks() const;

  int rank_ = 0, world_size_ = 1;
  std::string backend_;
  std::chrono::milliseconds timeout_{0};
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroup> group_;
  std::vector<Peer> peers_;
  int same_calls_ = 0, agree_calls_ = 0;  // each call's store keys are its own
};

// Gradient averaging for one network, as DDP's Reducer does it: parameters grouped into buckets of about
// `bucket_bytes` in reverse order (the order the backward pass produces their gradients), each bucket's
// all-reduce launched by a gradient hook as soon as its last gradient is in, so communication overlaps
// the rest of the backward pass. After finish(), every parameter's .grad is the mean over all replicas'
// samples (each rank scales its loss by its share of the global batch, see trainer.cpp), bit-identical on
// every rank.
class GradientAverager {
 public:
  GradientAverager(std::shared_ptr<DataParallel> group, std::vector<torch::Tensor> parameters,
                   std::int64_t bucket_bytes = 1 << 20);
  ~GradientAverager();
  GradientAverager(const GradientAverager&) = delete;
  GradientAverager& operator=(const GradientAverager&) = delete;

  // Before the backward pass: `loss` (a scalar, this rank's scaled loss) rides in the last bucket, so the
  // global loss comes back with the gradients at no extra round trip.
  void begin_step(const torch::Tensor& loss);
  // After it: launches what the hooks have not (zeros for gradients that never came: a rank with no images
  // in a short last step), waits for every bucket, sets the .grad of every parameter. Returns the global
  // loss (the scaled losses averaged over ranks). Throws like DataParallel::start_allreduce_sum.
  torch::Tensor finish();

  std::size_t bucket_count() const { return buckets_.size(); }
  std::int64_t bytes_per_step() const;  // what each rank contributes to the all-reduces of one step

 private:
  struct Bucket {
    std::vector<std::size_t> parameters;  // indices into parameters_
    std::vector<std::int64_t> offsets;    // element offset of each in flat
    torch::Tensor flat;                   // the bucket's gradients (plus the loss slot in the last bucket)
    std::size_t pending = 0;              // gradients not yet copied in this step
    c10::intrusive_ptr<c10d::Work> work;
    bool launched = false;
  };
  void on_gradient(std::size_t parameter, const torch::Tensor& gradient);
  void launch_ready();
  void launch(Bucket& bucket);

  std::shared_ptr<DataParallel> group_;
  std::vector<torch::Tensor> parameters_;
  std::vector<unsigned> hooks_;
  std::vector<std::size_t> bucket_of_, slot_in_bucket_;
  std::vector<bool> arrived_;
  std::vector<Bucket> buckets_;
  std::size_t next_launch_ = 0;
  std::int64_t loss_offset_ = 0;  // in the last bucket's flat
};

// torch.nn.SyncBatchNorm's training-mode forward and backward: the batch statistics (and the input gradient's
// two sums) over every replica's batch, so N replicas of B images normalise as one batch of N x B. Updates the
// running statistics with the global batch, like the single-process layer. Input (N, C) or (N, C, H, W).
torch::Tensor sync_batch_norm(const torch::Tensor& input, const torch::Tensor& weight, const torch::Tensor& bias,
                              const torch::Tensor& running_mean, const torch::Tensor& running_var,
                              const torch::Tensor& num_batches_tracked, double eps, double momentum,
                              DataParallel& group);

}  // namespace digitlab::trainer
