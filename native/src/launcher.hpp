// Child processes of this program: `digitlab train --nproc N` (N data-parallel workers on this machine, set
// up the way torchrun sets them up) and `digitlab sweep --workers N` (the grid's runs in parallel). The
// parent starts them, forwards Ctrl-C, and when one fails says which and stops the others in bounded time.
// Read next: launcher.cpp, distributed.hpp (what the workers do with their environment).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace digitlab::trainer {

struct ChildSpec {
  std::string label;                                         // "rank 1", "run 3/8": for messages
  std::vector<std::string> args;                             // after the program name
  std::vector<std::pair<std::string, std::string>> environment;  // set on top of this process's
};

struct ChildExit {
  int code = 0;    // exit status, when it exited
  int signal = 0;  // the signal that killed it, otherwise 0
  bool ok() const { return code == 0 && signal == 0; }
};

struct ChildRunOptions {
  std::size_t parallel = 0;  // at most this many at once (0: all)
  std::string command;       // "digitlab train": the prefix of the parent's messages
  // After the first failure: how long the others get to stop on their own (a data-parallel worker notices a
  // lost peer by itself and says so), then SIGTERM, then after `kill_after` SIGKILL.
  std::chrono::milliseconds grace{10000}, kill_after{5000};
  bool announce = false;     // print "worker rank 1: pid 4242" as each starts
  // Extra environment for child `index` started in `slot` (0 to parallel-1, free again when it exits):
  // the sweep gives each slot its own GPU.
  std::function<std::vector<std::pair<std::string, std::string>>(std::size_t index, std::size_t slot)> environment_for;
  std::function<void(std::size_t index, const ChildExit& exit)> on_exit;  // as each one ends
};

struct ChildResults {
  std::vector<ChildExit> exits;  // one per spec (not started: code -1)
  int first_failure = -1;        // the index of the child that failed first, in time
  // The exit code for the parent: 0 when every child succeeded, else the first failure's (1 for a signal).
  int exit_code() const;
};

// Runs the children of this very program (/proc/self/exe) and waits for all of them. The first failure is
// reported on stderr ("worker rank 1 (pid 4242) was killed by signal 9 (Killed)") and stops the rest: the
// ones not started yet never start.
ChildResults run_children(const std::vector<ChildSpec>& specs, const ChildRunOptions& options);

// argv without an option and its value ("--nproc 2", "--nproc=2"), for the children's command line.
std::vector<std::string> without_option(const std::vector<std::string>& args, const std::string& name);

// A TCP port free on 127.0.0.1 right now (the kernel's choice), for MASTER_PORT of a one-machine run.
int free_local_port();

// `digitlab train --nproc N`: N workers with RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR=127.0.0.1 and
// MASTER_PORT (the environment's, else a free port), each on `threads_per_worker` CPU threads. `args` is the
// parent's command line after the program name. Returns the exit code.
int launch_local_workers(int nproc, const std::vector<std::string>& args, int threads_per_worker);

}  // namespace digitlab::trainer
