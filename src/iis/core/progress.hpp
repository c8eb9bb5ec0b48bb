// Progress reporting for long work: a bar with rate and ETA on a terminal, log lines otherwise.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace iis::core {

// Where progress and log lines go. Auto: a bar when stderr is a terminal; Plain: a log line
// every ~10 % or 10 s; Quiet: nothing (tests).
enum class ProgressMode { Auto, Plain, Quiet };
void set_progress_mode(ProgressMode mode);
ProgressMode progress_mode();

// One informational line on stderr ("[iis] ..."), unless quiet.
void log_info(const std::string& line);

// A check for a request to stop (Ctrl-C in the Python module), run at every progress step on
// the thread that set it: it throws to stop the work, and the exception leaves the command like
// any other (outputs are written atomically, so what is left is either complete or absent).
// Thread-local: a worker thread, or another command running beside, is not stopped by it.
// An empty function (the default) checks nothing.
void set_interrupt_check(std::function<void()> check);

// Runs this thread's interrupt check, if any (long loops without a progress bar call it).
void check_interrupt();

// A progress bar for one stage of `total` steps of `unit` (e.g. "epochs", "images").
// Not thread-safe: advance it from one thread.
class Progress {
 public:
  Progress(std::string stage, int64_t total, std::string unit);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Also runs check_interrupt(), which may throw.
  void advance(int64_t steps = 1);
  // Extra text shown after the bar (e.g. "loss 0.31").
  void set_status(std::string status);
  // Ends the bar with a final line giving the elapsed time.
  void finish();
  double elapsed_seconds() const;

 private:
  void draw(bool final);
  std::string stage_, unit_, status_;
  int64_t total_, done_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
  int64_t last_logged_decile_ = -1;
  bool finished_ = false;
  bool tty_ = false;
};

// "1h02m", "3m05s", "4.2s".
std::string format_duration(double seconds);

}  // namespace iis::core
