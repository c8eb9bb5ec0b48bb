// Progress bars with ETA, and log lines.
#include "iis/core/progress.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>

namespace iis::core {

namespace {
ProgressMode g_mode = ProgressMode::Auto;
thread_local std::function<void()> t_interrupt_check;
bool stderr_is_tty() { return ::isatty(STDERR_FILENO) == 1; }
}  // namespace

void set_progress_mode(ProgressMode mode) { g_mode = mode; }
ProgressMode progress_mode() { return g_mode; }

void set_interrupt_check(std::function<void()> check) { t_interrupt_check = std::move(check); }

void check_interrupt() {
  if (t_interrupt_check) t_interrupt_check();
}

void log_info(const std::string& line) {
  if (g_mode == ProgressMode::Quiet) return;
  std::cerr << "[iis] " << line << std::endl;
}

std::string format_duration(double s) {
  char buf[32];
  if (!std::isfinite(s) || s < 0) return "?";
  if (s < 60) {
    std::snprintf(buf, sizeof(buf), "%.1fs", s);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof(buf), "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  } else {
    std::snprintf(buf, sizeof(buf), "%dh%02dm", static_cast<int>(s) / 3600,
                  (static_cast<int>(s) % 3600) / 60);
  }
  return buf;
}

Progress::Progress(std::string stage, int64_t total, std::string unit)
    : stage_(std::move(stage)), unit_(std::move(unit)), total_(std::max<int64_t>(total, 0)) {
  start_ = last_draw_ = std::chrono::steady_clock::now();
  tty_ = g_mode == ProgressMode::Auto && stderr_is_tty();
  if (g_mode != ProgressMode::Quiet && !tty_) log_info(stage_ + ": started");
}

Progress::~Progress() {
  if (!finished_ && tty_) std::cerr << std::endl;  // leave the half-drawn bar on its own line
}

void Progress::advance(int64_t steps) {
  done_ = std::min(total_, done_ + steps);
  draw(false);
  check_interrupt();
}

void Progress::set_status(std::string status) { status_ = std::move(status); }

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::finish() {
  if (finished_) return;
  done_ = total_;
  draw(true);
  finished_ = true;
}

void Progress::draw(bool final) {
  if (g_mode == ProgressMode::Quiet) return;
  auto now = std::chrono::steady_clock::now();
  double elapsed = elapsed_seconds();
  double rate = elapsed > 0 ? done_ / elapsed : 0;
  double eta = rate > 0 ? (total_ - done_) / rate : NAN;
  std::ostringstream line;
  if (tty_) {
    if (!final && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    constexpr int kWidth = 30;
    double frac = total_ > 0 ? static_cast<double>(done_) / total_ : 1.0;
    int filled = static_cast<int>(frac * kWidth);
    line << "\r\033[K" << stage_ << " [" << std::string(filled, '#')
         << std::string(kWidth - filled, '.') << "] " << done_ << "/" << total_ << " " << unit_;
    char r[32];
    std::snprintf(r, sizeof(r), " %.1f %s/s", rate, unit_.c_str());
    line << r;
    if (final) {
      line << " in " << format_duration(elapsed);
    } else {
      line << " ETA " << format_duration(eta);
    }
    if (!status_.empty()) line << "  " << status_;
    std::cerr << line.str();
    if (final) std::cerr << std::endl;
    std::cerr.flush();
    return;
  }
  // Plain mode: a line at each 10 % step or every 10 s, and at the end.
  int64_t decile = total_ > 0 ? done_ * 10 / total_ : 10;
  bool due = decile != last_logged_decile_ || now - last_draw_ > std::chrono::seconds(10);
  if (!final && !due) return;
  if (!final && done_ == total_) return;  // the final line will say it
  last_logged_decile_ = decile;
  last_draw_ = now;
  line << stage_ << ": " << done_ << "/" << total_ << " " << unit_;
  if (final) {
    line << " done in " << format_duration(elapsed);
  } else {
    line << ", ETA " << format_duration(eta);
  }
  if (!status_.empty()) line << " (" << status_ << ")";
  log_info(line.str());
}

}  // namespace iis::core
