// Data-parallel pieces (see distributed.hpp). Sections: 1. the environment  2. the group: rendezvous,
// agreement, collectives, explaining failures  3. the gradient averager  4. synchronised batch norm.
// Read next: launcher.cpp, trainer.cpp.
#include "distributed.hpp"

#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <thread>

#include <c10/util/Logging.h>
#include <fmt/format.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if defined(DIGITLAB_C10D_GLOO)
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if defined(DIGITLAB_C10D_NCCL)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace digitlab::trainer {

namespace {

Error bad_environment(const std::string& variable, const std::string& message) {
  return make_error(ErrorCode::bad_argument, variable, 0, message);
}

constexpr const char* kLaunchHint =
    "torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT for each worker; "
    "`digitlab train --nproc N` starts N workers on this machine itself";

// A whole non-negative decimal number, nothing else ("1 ", "1x", "-1" and "" are refused).
bool parse_count(const char* text, long* value) {
  if (text == nullptr || *text == '\0') return false;
  for (const char* c = text; *c; ++c)
    if (!std::isdigit(static_cast<unsigned char>(*c))) return false;
  errno = 0;
  *value = std::strtol(text, nullptr, 10);
  return errno == 0 && *value <= 1000000000L;
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

// Whether a process of this machine is still running: a zombie (exited, not yet reaped) counts as gone.
bool process_running(long pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const std::size_t close = line.rfind(')');  // "pid (name) S ...": the name may hold spaces
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z' && line[close + 2] != 'X';
}

// c10d logs its socket troubles itself (through glog, or c10's own logging), in words meant for its developers;
// every one of them reaches the user here as an error of ours that says what to do, so its lines are left out.
void quiet_c10d_logging() {
#if defined(C10_USE_GLOG) && defined(DIGITLAB_GLOG)
  FLAGS_minloglevel = 3;  // glog: FATAL only
#endif  // c10's own logging (pip builds) keeps its "[W socket.cpp ...]" lines: noise, not harm
}

// Every rank checks in at the store, and waits (until the timeout) for all of them: a missing worker is
// named as such, rather than as a socket timeout further on.
Status wait_for_workers(c10d::Store& store, int rank, int world_size, std::chrono::milliseconds timeout) {
  std::int64_t arrived = store.add("digitlab/arrived", 1);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (arrived < world_size && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    arrived = store.add("digitlab/arrived", 0);
  }
  if (arrived >= world_size) return Ok{};
  return make_error(ErrorCode::io, "WORLD_SIZE", 0,
                    fmt::format("only {} of the {} workers arrived within {} s (this is rank {}): start every rank "
                                "from 0 to {} with the same MASTER_ADDR and MASTER_PORT, or give them longer with "
                                "--dist-timeout",
                                arrived, world_size, std::chrono::duration_cast<std::chrono::seconds>(timeout).count(),
                                rank, world_size - 1));
}

std::string exception_text(const std::exception& error) {
  // c10::Error's what() carries a C++ backtrace; the reader needs the sentence.
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&error)) return c10_error->what_without_backtrace();
  return error.what();
}

std::string first_line(std::string text) {
  if (const std::size_t newline = text.find('\n'); newline != std::string::npos) text.resize(newline);
  return text;
}

void store_set(c10d::Store& store, const std::string& key, const std::string& value) {
  store.set(key, std::vector<std::uint8_t>(value.begin(), value.end()));
}

std::string store_get(c10d::Store& store, const std::string& key) {
  const std::vector<std::uint8_t> bytes = store.get(key);
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace

// ---- 1. The environment ------------------------------------------------------------------------------------

Result<std::optional<WorldInfo>> world_from_environment() {
  const char* rank_text = std::getenv("RANK");
  const char* world_text = std::getenv("WORLD_SIZE");
  if (rank_text == nullptr && world_text == nullptr) return std::optional<WorldInfo>{};
  if (rank_text == nullptr || world_text == nullptr)
    return bad_environment(rank_text ? "WORLD_SIZE" : "RANK",
                           fmt::format("{} is set but {} is not: a data-parallel worker needs both ({}). Unset {} "
                                       "for an ordinary single-process run.",
                                       rank_text ? "RANK" : "WORLD_SIZE", rank_text ? "WORLD_SIZE" : "RANK",
                                       kLaunchHint, rank_text ? "RANK" : "WORLD_SIZE"));
  WorldInfo world;
  long value = 0;
  if (!parse_count(world_text, &value))
    return bad_environment("WORLD_SIZE", fmt::format("WORLD_SIZE='{}' is not a whole number: it is the number of "
                                                     "workers in the run, 1 or more", world_text));
  if (value < 1)
    return bad_environment("WORLD_SIZE", "WORLD_SIZE=0: a run needs at least one worker (WORLD_SIZE=1 is a "
                                         "data-parallel run of one)");
  world.world_size = static_cast<int>(value);
  if (!parse_count(rank_text, &value))
    return bad_environment("RANK", fmt::format("RANK='{}' is not a whole number: it is this worker's index, 0 to "
                                               "WORLD_SIZE-1", rank_text));
  if (value >= world.world_size)
    return bad_environment("RANK", fmt::format("RANK={} with WORLD_SIZE={}: ranks run from 0 to {}", value,
                                               world.world_size, world.world_size - 1));
  world.rank = static_cast<int>(value);
  world.local_rank = world.rank;  // one machine, unless the launcher says otherwise
  if (const char* local = std::getenv("LOCAL_RANK")) {
    if (!parse_count(local, &value))
      return bad_environment("LOCAL_RANK", fmt::format("LOCAL_RANK='{}' is not a whole number: it is the worker's "
                                                       "index on its machine (it picks the GPU)", local));
    world.local_rank = static_cast<int>(value);
  }
  const char* address = std::getenv("MASTER_ADDR");
  if (address == nullptr || *address == '\0')
    return bad_environment("MASTER_ADDR", fmt::format("MASTER_ADDR is not set: every worker needs the address of "
                                                      "the machine running rank 0 (127.0.0.1 on one machine). {}",
                                                      kLaunchHint));
  world.master_addr = address;
  const char* port = std::getenv("MASTER_PORT");
  if (port == nullptr || *port == '\0')
    return bad_environment("MASTER_PORT", fmt::format("MASTER_PORT is not set: every worker needs the port rank 0 "
                                                      "listens on (torchrun uses 29500). {}", kLaunchHint));
  if (!parse_count(port, &value) || value < 1 || value > 65535)
    return bad_environment("MASTER_PORT", fmt::format("MASTER_PORT='{}' is not a port number (1 to 65535)", port));
  world.master_port = static_cast<int>(value);
  return std::optional<WorldInfo>{world};
}

// ---- 2. The group ------------------------------------------------------------------------------------------

namespace {

#if defined(DIGITLAB_C10D_GLOO)
// Which network interface Gloo binds: GLOO_SOCKET_IFNAME as in PyTorch, loopback for a one-machine run,
// otherwise the address this machine's hostname resolves to.
std::shared_ptr<::gloo::transport::Device> gloo_device(const std::string& master_addr) {
  if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME"); interface && *interface)
    return c10d::ProcessGroupGloo::createDeviceForInterface(interface);
  if (master_addr == "localhost" || master_addr.rfind("127.", 0) == 0)
    return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}
#endif

Result<c10::intrusive_ptr<c10d::ProcessGroup>> make_group(const c10::intrusive_ptr<c10d::Store>& store, int rank,
                                                          int world_size, const torch::Device& device,
                                                          const std::string& master_addr,
                                                          std::chrono::milliseconds timeout, std::string* backend) {
  if (device.is_cuda()) {
#if defined(DIGITLAB_C10D_NCCL)
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = timeout;
    *backend = "nccl";
    return c10::intrusive_ptr<c10d::ProcessGroup>(
        c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, world_size, options));
#else
    return make_error(ErrorCode::bad_argument, "device", 0,
                      "data-parallel training on CUDA needs NCCL, and this LibTorch was built without it "
                      "(USE_C10D_NCCL): use --device cpu (Gloo) or a LibTorch with NCCL");
#endif
  }
#if defined(DIGITLAB_C10D_GLOO)
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  options->devices.push_back(gloo_device(master_addr));
  *backend = "gloo";
  return c10::intrusive_ptr<c10d::ProcessGroup>(
      c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world_size, options));
#else
  (void)store, (void)rank, (void)world_size, (void)master_addr, (void)timeout;
  return make_error(ErrorCode::bad_argument, "device", 0,
                    "data-parallel training on CPU needs c10d's Gloo backend, which this build of digitlab lacks: its "
                    "LibTorch has no USE_C10D_GLOO, or Gloo's headers were missing (apt-get install libgloo-dev, "
                    "then rebuild)");
#endif
}

}  // namespace

Result<std::shared_ptr<DataParallel>> DataParallel::connect(const WorldInfo& world, const torch::Device& device,
                                                            std::chrono::milliseconds timeout) {
  std::shared_ptr<DataParallel> parallel(new DataParallel());
  parallel->rank_ = world.rank;
  parallel->world_size_ = world.world_size;
  parallel->timeout_ = timeout;
  const std::string where = fmt::format("{}:{}", world.master_addr, world.master_port);
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout).count();
  quiet_c10d_logging();
  // torchrun's agent already serves a TCPStore on MASTER_PORT and says so; its workers are all clients of
  // it, under a prefix per restart, as PyTorch's env:// rendezvous does (torch/distributed/rendezvous.py).
  const char* agent_store = std::getenv("TORCHELASTIC_USE_AGENT_STORE");
  const bool use_agent_store = agent_store && std::string(agent_store) == "True";
  try {
    c10d::TCPStoreOptions options;
    options.port = static_cast<std::uint16_t>(world.master_port);
    options.isServer = world.rank == 0 && !use_agent_store;
    options.numWorkers = static_cast<std::size_t>(world.world_size);
    options.waitWorkers = !use_agent_store;
    options.timeout = timeout;
    parallel->store_ = c10::make_intrusive<c10d::TCPStore>(world.master_addr, options);
    if (use_agent_store) {
      const char* restart = std::getenv("TORCHELASTIC_RESTART_COUNT");
      parallel->store_ = c10::make_intrusive<c10d::PrefixStore>(
          std::string("/worker/attempt_") + (restart && *restart ? restart : "0"), parallel->store_);
    }
  } catch (const std::exception& error) {
    const std::string what = first_line(exception_text(error));
    if (world.rank == 0 && what.find("failed to listen") != std::string::npos)
      return make_error(ErrorCode::io, "MASTER_PORT", 0,
                        fmt::format("rank 0 could not listen on port {} for the rendezvous: the port is in use (by "
                                    "another program, or a run still finishing). Choose a free one with MASTER_PORT "
                                    "(--nproc picks a free one when MASTER_PORT is not set).",
                                    world.master_port));
    if (world.rank == 0)
      return make_error(ErrorCode::io, "MASTER_PORT", 0,
                        fmt::format("rank 0 could not hold the rendezvous on {}: {}", where, what));
    return make_error(ErrorCode::io, "MASTER_ADDR", 0,
                      fmt::format("rank {} could not reach rank 0's rendezvous at {} within {} s ({}). Is rank 0 "
                                  "running, and are MASTER_ADDR and MASTER_PORT the same for every worker?",
                                  world.rank, where, seconds, what));
  }
  try {
    if (Status arrived = wait_for_workers(*parallel->store_, world.rank, world.world_size, timeout); !arrived)
      return arrived.error();
  } catch (const std::exception& error) {
    return make_error(ErrorCode::io, "MASTER_ADDR", 0,
                      fmt::format("rank {} lost rank 0's rendezvous at {} while the workers gathered: {}", world.rank,
                                  where, first_line(exception_text(error))));
  }
  try {
    auto group = make_group(c10::make_intrusive<c10d::PrefixStore>("group", parallel->store_), world.rank,
                            world.world_size, device, world.master_addr, timeout, &parallel->backend_);
    if (!group) return group.error();
    parallel->group_ = group.value();
  } catch (const std::exception& error) {
    return make_error(ErrorCode::io, "process group", 0,
                      fmt::format("rank {} could not connect to the other {} worker(s) after the rendezvous at {}: "
                                  "{}. With several machines, check that they reach each other (GLOO_SOCKET_IFNAME "
                                  "names the network interface to use).",
                                  world.rank, world.world_size - 1, where, first_line(exception_text(error))));
  }
  if (Status exchanged = parallel->exchange_peers(); !exchanged) return exchanged.error();
  return parallel;
}

Result<std::shared_ptr<DataParallel>> DataParallel::on_store(const c10::intrusive_ptr<c10d::Store>& store, int rank,
                                                             int world_size, std::chrono::milliseconds timeout) {
  std::shared_ptr<DataParallel> parallel(new DataParallel());
  parallel->rank_ = rank;
  parallel->world_size_ = world_size;
  parallel->timeout_ = timeout;
  parallel->store_ = store;
  try {
    auto group = make_group(c10::make_intrusive<c10d::PrefixStore>("group", store), rank, world_size, torch::kCPU,
                            "127.0.0.1", timeout, &parallel->backend_);
    if (!group) return group.error();
    parallel->group_ = group.value();
  } catch (const std::exception& error) {
    return make_error(ErrorCode::io, "process group", 0, first_line(exception_text(error)));
  }
  if (Status exchanged = parallel->exchange_peers(); !exchanged) return exchanged.error();
  return parallel;
}

DataParallel::~DataParallel() = default;

// Who runs each rank (host and pid), so that a failure can say which rank is gone.
Status DataParallel::exchange_peers() {
  try {
    store_set(*store_, fmt::format("digitlab/worker/{}", rank_), fmt::format("{}\n{}", host_name(), ::getpid()));
    peers_.assign(world_size_, Peer{});
    for (int r = 0; r < world_size_; ++r) {
      const std::string text = store_get(*store_, fmt::format("digitlab/worker/{}", r));
      const std::size_t newline = text.find('\n');
      peers_[r].host = text.substr(0, newline);
      peers_[r].pid = newline == std::string::npos ? 0 : std::atol(text.c_str() + newline + 1);
    }
  } catch (const std::exception& error) {
    return explain(error, "the exchange of worker addresses");
  }
  return Ok{};
}

std::string DataParallel::lost_ranks() const {
  const std::string here = host_name();
  std::vector<std::string> gone, elsewhere;
  // A killed peer's sockets close while it is still exiting: give /proc up to 2 s to show it gone.
  for (int attempt = 0; attempt < 40 && gone.empty(); ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    elsewhere.clear();
    for (int r = 0; r < static_cast<int>(peers_.size()); ++r) {
      if (r == rank_) continue;
      if (peers_[r].host != here)
        elsewhere.push_back(fmt::format("{} on {}", r, peers_[r].host));
      else if (!process_running(peers_[r].pid))
        gone.push_back(fmt::format("rank {} (pid {})", r, peers_[r].pid));
    }
    if (gone.empty() && elsewhere.size() + 1 == peers_.size()) break;  // no local peer to wait for
  }
  if (!gone.empty()) {
    std::string text;
    for (std::size_t i = 0; i < gone.size(); ++i) text += (i ? ", " : "") + gone[i];
    return text + (gone.size() == 1 ? " is" : " are") + " no longer running";
  }
  if (!elsewhere.empty()) {
    std::string text;
    for (std::size_t i = 0; i < elsewhere.size(); ++i) text += (i ? ", " : "") + elsewhere[i];
    return "every worker on this machine is still running; look at the ranks on other machines (" + text + ")";
  }
  return "every other worker is still running (a timeout: one may be stuck)";
}

Error DataParallel::explain(const std::exception& error, const std::string& during) const {
  return make_error(ErrorCode::io, "distributed", 0,
                    fmt::format("rank {} lost contact with the other workers during {}: {} ({}). The run stopped; "
                                "what was written before (the last checkpoint, a previous weights file) is intact: "
                                "fix the cause and continue with --resume.",
                                rank_, during, lost_ranks(), first_line(exception_text(error))));
}

Status DataParallel::check_same(const nlohmann::json& mine, const std::string& what) {
  const std::string key = fmt::format("digitlab/same/{}/{}", what, same_calls_++);
  Status status = Ok{};
  try {
    if (rank_ == 0) store_set(*store_, key, mine.dump());
    const nlohmann::json reference = rank_ == 0 ? mine : nlohmann::json::parse(store_get(*store_, key));
    for (const auto& [name, value] : reference.items()) {
      const auto other = mine.find(name);
      const std::string ours = other == mine.end() ? "(missing)" : other->dump();
      if (ours != value.dump()) {
        status = make_error(ErrorCode::bad_argument, name, 0,
                            fmt::format("the workers disagree on their {}: rank {} has {} = {} but rank 0 has {}. "
                                        "Every worker must train the same recipe on the same data; start them with "
                                        "the same options.",
                                        what, rank_, name, ours, value.dump()));
        break;
      }
    }
  } catch (const std::exception& error) {
    return explain(error, "the comparison of the workers' " + what);
  }
  return agree(status, "comparing the " + what);
}

Status DataParallel::agree(const Status& mine, const std::string& phase) {
  const std::string prefix = fmt::format("digitlab/agree/{}/", agree_calls_++);
  try {
    if (!mine)
      store_set(*store_, prefix + std::to_string(rank_),
                std::to_string(static_cast<int>(mine.error().code)) + "\n" + mine.error().message);
    torch::Tensor failed = torch::full({1}, mine ? 0 : 1, torch::kInt64);
    allreduce_sum(failed);
    if (failed.item<std::int64_t>() == 0) return Ok{};
    Error first = mine ? Error{} : mine.error();
    if (mine) {
      for (int r = 0; r < world_size_; ++r) {
        const std::string key = prefix + std::to_string(r);
        if (!store_->check({key})) continue;
        // "code\nmessage": a command-line mistake on one rank is one on all (the same exit code everywhere).
        const std::string text = store_get(*store_, key);
        const std::size_t newline = text.find('\n');
        const auto code = static_cast<ErrorCode>(std::atoi(text.substr(0, newline).c_str()));
        first = make_error(code == ErrorCode::bad_argument ? code : ErrorCode::io, "distributed", 0,
                           fmt::format("rank {} stopped ({}): {}", r, phase, text.substr(newline + 1)));
        break;
      }
    }
    group_->barrier()->wait();  // rank 0 serves the store: it stays until every rank has read the message
    return first;
  } catch (const std::exception& error) {
    return explain(error, phase);
  }
}

Status DataParallel::broadcast_from_rank0(const std::vector<torch::Tensor>& tensors) {
  if (tensors.empty()) return Ok{};
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> flat_parts;
  for (const auto& tensor : tensors) flat_parts.push_back(tensor.detach().reshape({-1}));
  try {
    std::vector<torch::Tensor> flat = {torch::cat(flat_parts)};
    group_->broadcast(flat)->wait();
    std::int64_t offset = 0;
    for (const auto& tensor : tensors) {
      tensor.detach().copy_(flat[0].narrow(0, offset, tensor.numel()).view(tensor.sizes()));
      offset += tensor.numel();
    }
  } catch (const std::exception& error) {
    return explain(error, "the broadcast of rank 0's weights");
  }
  return Ok{};
}

Status DataParallel::barrier() {
  try {
    group_->barrier()->wait();
  } catch (const std::exception& error) {
    return explain(error, "the final barrier");
  }
  return Ok{};
}

c10::intrusive_ptr<c10d::Work> DataParallel::start_allreduce_sum(torch::Tensor& tensor) {
  std::vector<torch::Tensor> tensors = {tensor};
  return group_->allreduce(tensors);
}

void DataParallel::allreduce_sum(torch::Tensor& tensor) { start_allreduce_sum(tensor)->wait(); }

// ---- 3. The gradient averager ------------------------------------------------------------------------------

GradientAverager::GradientAverager(std::shared_ptr<DataParallel> group, std::vector<torch::Tensor> parameters,
                                   std::int64_t bucket_bytes)
    : group_(std::move(group)), parameters_(std::move(parameters)) {
  const std::size_t count = parameters_.size();
  bucket_of_.assign(count, 0);
  slot_in_bucket_.assign(count, 0);
  arrived_.assign(count, false);
  // Reverse order: the last layer's gradients come first out of the backward pass.
  std::int64_t bytes = 0;
  for (std::size_t k = count; k-- > 0;) {
    if (buckets_.empty() || bytes >= bucket_bytes) {
      buckets_.emplace_back();
      bytes = 0;
    }
    Bucket& bucket = buckets_.back();
    bucket_of_[k] = buckets_.size() - 1;
    slot_in_bucket_[k] = bucket.parameters.size();
    bucket.parameters.push_back(k);
    bytes += parameters_[k].numel() * static_cast<std::int64_t>(parameters_[k].element_size());
  }
  for (std::size_t b = 0; b < buckets_.size(); ++b) {
    Bucket& bucket = buckets_[b];
    std::int64_t elements = 0;
    for (std::size_t k : bucket.parameters) {
      bucket.offsets.push_back(elements);
      elements += parameters_[k].numel();
    }
    if (b + 1 == buckets_.size()) loss_offset_ = elements++;  // the loss rides in the last bucket
    const auto& first = parameters_[bucket.parameters.front()];
    bucket.flat = torch::zeros({elements}, torch::TensorOptions().dtype(first.dtype()).device(first.device()));
  }
  for (std::size_t k = 0; k < count; ++k)
    hooks_.push_back(parameters_[k].register_hook([this, k](const torch::Tensor& gradient) { on_gradient(k, gradient); }));
}

GradientAverager::~GradientAverager() {
  for (std::size_t k = 0; k < hooks_.size(); ++k) parameters_[k].remove_hook(hooks_[k]);
}

std::int64_t GradientAverager::bytes_per_step() const {
  std::int64_t bytes = 0;
  for (const auto& bucket : buckets_) bytes += bucket.flat.numel() * static_cast<std::int64_t>(bucket.flat.element_size());
  return bytes;
}

void GradientAverager::begin_step(const torch::Tensor& loss) {
  for (auto& bucket : buckets_) {
    bucket.pending = bucket.parameters.size();
    bucket.launched = false;
    bucket.work.reset();
  }
  arrived_.assign(parameters_.size(), false);
  next_launch_ = 0;
  torch::NoGradGuard no_grad;
  buckets_.back().flat.narrow(0, loss_offset_, 1).copy_(loss.detach().reshape({1}));
}

void GradientAverager::on_gradient(std::size_t parameter, const torch::Tensor& gradient) {
  torch::NoGradGuard no_grad;
  Bucket& bucket = buckets_[bucket_of_[parameter]];
  const std::int64_t offset = bucket.offsets[slot_in_bucket_[parameter]];
  // A channels-last gradient is copied element by element in logical (NCHW) order: the flat buffer is dense.
  bucket.flat.narrow(0, offset, gradient.numel()).view(gradient.sizes()).copy_(gradient);
  if (!arrived_[parameter]) {
    arrived_[parameter] = true;
    --bucket.pending;
  }
  if (bucket.pending == 0) launch_ready();
}

// Buckets go out strictly in order, so every rank issues its collectives in the same sequence.
void GradientAverager::launch_ready() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].pending == 0) launch(buckets_[next_launch_++]);
}

void GradientAverager::launch(Bucket& bucket) {
  bucket.work = group_->start_allreduce_sum(bucket.flat);
  bucket.launched = true;
}

torch::Tensor GradientAverager::finish() {
  torch::NoGradGuard no_grad;
  for (; next_launch_ < buckets_.size(); ++next_launch_) {
    Bucket& bucket = buckets_[next_launch_];
    for (std::size_t slot = 0; slot < bucket.parameters.size(); ++slot) {
      const std::size_t k = bucket.parameters[slot];
      if (!arrived_[k]) bucket.flat.narrow(0, bucket.offsets[slot], parameters_[k].numel()).zero_();
    }
    launch(bucket);
  }
  const double world = group_->world_size();
  for (auto& bucket : buckets_) {
    bucket.work->wait();
    if (world > 1) bucket.flat.div_(world);
    for (std::size_t slot = 0; slot < bucket.parameters.size(); ++slot) {
      torch::Tensor& parameter = parameters_[bucket.parameters[slot]];
      parameter.mutable_grad() = bucket.flat.narrow(0, bucket.offsets[slot], parameter.numel()).view(parameter.sizes());
    }
  }
  return buckets_.back().flat.narrow(0, loss_offset_, 1).reshape({}).clone();
}

// ---- 4. Synchronised batch norm ----------------------------------------------------------------------------

namespace {

std::vector<std::int64_t> reduced_dims(const torch::Tensor& input) {
  std::vector<std::int64_t> dims = {0};
  for (std::int64_t d = 2; d < input.dim(); ++d) dims.push_back(d);
  return dims;
}

std::vector<std::int64_t> channel_shape(const torch::Tensor& input) {
  std::vector<std::int64_t> shape(input.dim(), 1);
  shape[1] = input.size(1);
  return shape;
}

struct SyncBatchNorm : public torch::autograd::Function<SyncBatchNorm> {
  static torch::Tensor forward(torch::autograd::AutogradContext* context, const torch::Tensor& input,
                               const torch::Tensor& weight, const torch::Tensor& bias,
                               const torch::Tensor& running_mean, const torch::Tensor& running_var,
                               const torch::Tensor& num_batches_tracked, double eps, double momentum,
                               std::int64_t group_address) {
    auto& group = *reinterpret_cast<DataParallel*>(group_address);
    const auto dims = reduced_dims(input);
    const auto shape = channel_shape(input);
    const std::int64_t channels = input.size(1);
    const double local_count = double(input.numel()) / double(channels);
    // Each replica's mean and variance (exact two-pass), combined across replicas in float64 as sums.
    auto [local_var, local_mean] = torch::var_mean(input, dims, /*unbiased=*/false);
    torch::Tensor mean64 = local_mean.to(torch::kFloat64), var64 = local_var.to(torch::kFloat64);
    torch::Tensor packed = torch::cat({mean64 * local_count, (var64 + mean64 * mean64) * local_count,
                                       torch::full({1}, local_count, mean64.options())});
    group.allreduce_sum(packed);
    const double count = packed[2 * channels].item<double>();
    torch::Tensor mean = packed.narrow(0, 0, channels) / count;
    torch::Tensor var = (packed.narrow(0, channels, channels) / count - mean * mean).clamp_min(0);
    {
      torch::NoGradGuard no_grad;
      running_mean.mul_(1 - momentum).add_(mean.to(running_mean.dtype()), momentum);
      running_var.mul_(1 - momentum).add_((var * (count / std::max(count - 1, 1.0))).to(running_var.dtype()), momentum);
      num_batches_tracked.add_(1);
    }
    torch::Tensor invstd = (var + eps).rsqrt().to(input.dtype());
    torch::Tensor normalized = (input - mean.to(input.dtype()).view(shape)) * invstd.view(shape);
    context->save_for_backward({normalized, invstd, weight});
    context->saved_data["count"] = count;
    context->saved_data["group"] = group_address;
    return normalized * weight.view(shape) + bias.view(shape);
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* context,
                                               torch::autograd::tensor_list outputs) {
    const auto saved = context->get_saved_variables();
    const torch::Tensor& normalized = saved[0];
    const torch::Tensor& invstd = saved[1];
    const torch::Tensor& weight = saved[2];
    const double count = context->saved_data["count"].toDouble();
    auto& group = *reinterpret_cast<DataParallel*>(context->saved_data["group"].toInt());
    const torch::Tensor& grad = outputs[0];
    const auto dims = reduced_dims(grad);
    const auto shape = channel_shape(grad);
    const std::int64_t channels = grad.size(1);
    torch::Tensor sum_grad = grad.sum(dims);
    torch::Tensor sum_grad_normalized = (grad * normalized).sum(dims);
    // The weight and bias gradients stay local: the averager sums them over replicas with the others.
    torch::Tensor global = torch::cat({sum_grad, sum_grad_normalized}).to(torch::kFloat64);
    group.allreduce_sum(global);
    torch::Tensor global_sum = global.narrow(0, 0, channels).to(grad.dtype()).view(shape);
    torch::Tensor global_sum_normalized = global.narrow(0, channels, channels).to(grad.dtype()).view(shape);
    torch::Tensor grad_input = (weight * invstd).view(shape) / count *
                               (count * grad - global_sum - normalized * global_sum_normalized);
    return {grad_input, sum_grad_normalized, sum_grad, torch::Tensor(), torch::Tensor(), torch::Tensor(),
            torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor sync_batch_norm(const torch::Tensor& input, const torch::Tensor& weight, const torch::Tensor& bias,
                              const torch::Tensor& running_mean, const torch::Tensor& running_var,
                              const torch::Tensor& num_batches_tracked, double eps, double momentum,
                              DataParallel& group) {
  // The group travels as an address: autograd's saved data holds IValues, and the group outlives the graph.
  return SyncBatchNorm::apply(input, weight, bias, running_mean, running_var, num_batches_tracked, eps, momentum,
                              static_cast<std::int64_t>(reinterpret_cast<std::intptr_t>(&group)));
}

}  // namespace digitlab::trainer
