// Child processes (see launcher.hpp): spawning with posix_spawn, a polling wait loop that also watches for
// Ctrl-C and the stop deadlines, and the --nproc launcher on top. Read next: distributed.cpp.
#include "launcher.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <map>
#include <thread>

#include <fmt/format.h>

extern char** environ;

namespace digitlab::trainer {

namespace {

using Clock = std::chrono::steady_clock;

std::atomic<int> g_interrupted{0};  // the signal the parent received (SIGINT / SIGTERM), forwarded

void on_signal(int signal) { g_interrupted = signal; }

// This process's environment with `overrides` replacing (or adding) variables.
std::vector<std::string> child_environment(const std::vector<std::pair<std::string, std::string>>& overrides) {
  std::map<std::string, std::string> variables;
  std::vector<std::string> order;
  for (char** entry = environ; entry && *entry; ++entry) {
    const std::string text = *entry;
    const std::size_t equals = text.find('=');
    if (equals == std::string::npos) continue;
    const std::string name = text.substr(0, equals);
    if (!variables.count(name)) order.push_back(name);
    variables[name] = text.substr(equals + 1);
  }
  for (const auto& [name, value] : overrides) {
    if (!variables.count(name)) order.push_back(name);
    variables[name] = value;
  }
  std::vector<std::string> result;
  for (const auto& name : order) result.push_back(name + "=" + variables[name]);
  return result;
}

pid_t spawn_self(const ChildSpec& spec) {
  std::vector<std::string> argv_text = {"digitlab"};
  argv_text.insert(argv_text.end(), spec.args.begin(), spec.args.end());
  std::vector<char*> argv;
  for (auto& arg : argv_text) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<std::string> environment_text = child_environment(spec.environment);
  std::vector<char*> environment;
  for (auto& entry : environment_text) environment.push_back(entry.data());
  environment.push_back(nullptr);
  pid_t pid = -1;
  if (::posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), environment.data()) != 0) return -1;
  return pid;
}

std::string describe_exit(const ChildExit& exit) {
  if (exit.signal != 0) return fmt::format("was killed by signal {} ({})", exit.signal, ::strsignal(exit.signal));
  return fmt::format("exited with code {}", exit.code);
}

}  // namespace

ChildResults run_children(const std::vector<ChildSpec>& specs, const ChildRunOptions& options) {
  ChildResults results;
  results.exits.assign(specs.size(), ChildExit{-1, 0});
  std::vector<ChildExit>& exits = results.exits;
  std::vector<pid_t> pids(specs.size(), 0);
  std::vector<std::size_t> slot_of(specs.size(), 0);
  struct sigaction action {}, old_int {}, old_term {};
  action.sa_handler = on_signal;
  ::sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, &old_int);
  ::sigaction(SIGTERM, &action, &old_term);
  g_interrupted = 0;
  std::fflush(stdout);
  std::fflush(stderr);

  const std::size_t parallel = options.parallel == 0 ? specs.size() : options.parallel;
  std::size_t next = 0, running = 0;
  std::vector<bool> slot_busy(parallel, false);
  bool stopping = false;
  int forwarded = 0;
  Clock::time_point stop_started;
  bool terminated = false, killed = false;
  auto send_all = [&](int signal) {
    for (std::size_t i = 0; i < specs.size(); ++i)
      if (pids[i] > 0) ::kill(pids[i], signal);
  };
  auto begin_stop = [&] {
    if (stopping) return;
    stopping = true;
    stop_started = Clock::now();
  };

  while (true) {
    while (!stopping && running < parallel && next < specs.size()) {
      const std::size_t slot = static_cast<std::size_t>(
          std::find(slot_busy.begin(), slot_busy.end(), false) - slot_busy.begin());
      ChildSpec spec = specs[next];
      if (options.environment_for)
        for (auto& variable : options.environment_for(next, slot)) spec.environment.push_back(variable);
      const pid_t pid = spawn_self(spec);
      if (pid <= 0) {
        std::fprintf(stderr, "%s: error: could not start %s: %s\n", options.command.c_str(),
                     specs[next].label.c_str(), std::strerror(errno));
        exits[next] = ChildExit{1, 0};
        if (results.first_failure < 0) results.first_failure = static_cast<int>(next);
        begin_stop();
        break;
      }
      if (options.announce) std::printf("%s: pid %d\n", specs[next].label.c_str(), pid);
      std::fflush(stdout);
      slot_busy[slot] = true;
      slot_of[next] = slot;
      pids[next++] = pid;
      ++running;
    }
    if (running == 0 && (stopping || next == specs.size())) break;

    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      for (std::size_t i = 0; i < specs.size(); ++i) {
        if (pids[i] != pid) continue;
        pids[i] = 0;
        --running;
        slot_busy[slot_of[i]] = false;
        exits[i] = WIFSIGNALED(status) ? ChildExit{0, WTERMSIG(status)} : ChildExit{WEXITSTATUS(status), 0};
        if (options.on_exit) options.on_exit(i, exits[i]);
        if (!exits[i].ok() && results.first_failure < 0) results.first_failure = static_cast<int>(i);
        if (!exits[i].ok() && !stopping && !g_interrupted) {
          std::fprintf(stderr, "%s: %s (pid %d) %s; stopping the others\n", options.command.c_str(),
                       specs[i].label.c_str(), pid, describe_exit(exits[i]).c_str());
          begin_stop();
        }
      }
      continue;
    }
    if (g_interrupted && forwarded != g_interrupted) {
      forwarded = g_interrupted;
      send_all(forwarded);  // Ctrl-C reaches the children's process group anyway; SIGTERM may not
      begin_stop();
    }
    if (stopping && !terminated && Clock::now() - stop_started > options.grace) {
      std::fprintf(stderr, "%s: the other workers did not stop within %lld s; terminating them\n",
                   options.command.c_str(),
                   static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(options.grace).count()));
      send_all(SIGTERM);
      terminated = true;
    }
    if (terminated && !killed && Clock::now() - stop_started > options.grace + options.kill_after) {
      send_all(SIGKILL);
      killed = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  return results;
}

int ChildResults::exit_code() const {
  if (first_failure < 0) return 0;
  const ChildExit& exit = exits[first_failure];
  return exit.signal != 0 || exit.code < 0 ? 1 : exit.code;
}

std::vector<std::string> without_option(const std::vector<std::string>& args, const std::string& name) {
  std::vector<std::string> kept;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == name) {
      ++i;  // and its value
      continue;
    }
    if (args[i].rfind(name + "=", 0) == 0) continue;
    kept.push_back(args[i]);
  }
  return kept;
}

int free_local_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0)
    port = ntohs(address.sin_port);
  ::close(fd);
  return port;
}

int launch_local_workers(int nproc, const std::vector<std::string>& args, int threads_per_worker) {
  std::string port;
  if (const char* given = std::getenv("MASTER_PORT"); given && *given) {
    port = given;
  } else {
    const int free_port = free_local_port();
    if (free_port == 0) {
      std::fprintf(stderr, "digitlab train: error: found no free TCP port on 127.0.0.1 for the workers' rendezvous; "
                           "set MASTER_PORT to one\n");
      return 1;
    }
    port = std::to_string(free_port);
  }
  std::vector<std::string> worker_args = without_option(without_option(args, "--nproc"), "--threads");
  worker_args.push_back("--threads");
  worker_args.push_back(std::to_string(threads_per_worker));
  std::vector<ChildSpec> specs;
  for (int rank = 0; rank < nproc; ++rank)
    specs.push_back({fmt::format("worker rank {}", rank), worker_args,
                     {{"RANK", std::to_string(rank)},
                      {"WORLD_SIZE", std::to_string(nproc)},
                      {"LOCAL_RANK", std::to_string(rank)},
                      {"LOCAL_WORLD_SIZE", std::to_string(nproc)},
                      {"MASTER_ADDR", "127.0.0.1"},
                      {"MASTER_PORT", port}}});
  std::printf("Starting %d data-parallel workers on this machine (rendezvous 127.0.0.1:%s), %d CPU thread%s each\n",
              nproc, port.c_str(), threads_per_worker, threads_per_worker == 1 ? "" : "s");
  ChildRunOptions options;
  options.command = "digitlab train";
  options.announce = true;
  return run_children(specs, options).exit_code();
}

}  // namespace digitlab::trainer
