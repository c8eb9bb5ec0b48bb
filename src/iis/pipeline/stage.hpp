// Stages of `iis run`: each owns an output folder that is trusted only when a stamp holding
// the hash of the stage's inputs and options sits in it; unchanged stages are skipped.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace iis::pipeline {

// The canonical text of everything a stage's output depends on ("key=value" lines), hashed
// into the stamp. Upstream stages enter through their own hash, files through their content
// fingerprint, so a change anywhere upstream reaches every stage below it.
class StageKey {
 public:
  explicit StageKey(const std::string& kind);
  StageKey& add(const std::string& key, const std::string& value);
  StageKey& add(const std::string& key, double value);
  StageKey& add(const std::string& key, int64_t value);
  StageKey& add(const std::string& key, const std::vector<double>& values);
  StageKey& add(const std::string& key, const std::vector<int64_t>& values);
  // The content fingerprint of a file (core::fingerprint_file); throws naming it if missing.
  StageKey& add_file(const std::string& key, const std::string& path);
  const std::string& text() const { return text_; }
  std::string hash() const;  // 16 hex digits

 private:
  std::string text_;
};

// One unit of work.
struct Stage {
  std::string name;        // e.g. "embed/cnn2_e5/train"
  std::string kind;        // pretrain | elements | embed | fit | report
  std::string output_dir;  // the folder the stage owns; its stamp lives there
  StageKey key{""};        // what the output depends on
  // Remove the folder's old content before running (default). Stages that resume by
  // themselves (pretrain keeps its per-epoch checkpoints) keep it.
  bool clean = true;
  // Does the work, writing only into output_dir. `force` is the run's --force.
  std::function<void(bool force)> run;
};

// What happened to a stage in this run (stages.json).
struct StageRecord {
  std::string name, kind, output_dir, hash;
  bool ran = false;    // false: skipped, its stamp matched
  double seconds = 0;  // wall time of the work (0 when skipped)
};

// The stamp file of a stage's folder.
std::string stamp_path(const std::string& output_dir);

// Runs stages in order, skipping those whose stamp matches, and records what it did.
class StageRunner {
 public:
  // `force`: run every stage; `journal`: stages.json, rewritten atomically after each stage
  // ("" = none).
  StageRunner(bool force, std::string journal);

  // Skips the stage if its folder's stamp holds key.hash() (and not force). Otherwise removes
  // the stamp (and with `clean` the folder), runs it, and then writes the stamp atomically:
  // a run killed at any point leaves either a complete output with its stamp or no stamp.
  // Returns the stage's hash, for the keys of the stages that consume its output.
  std::string run(const Stage& stage);

  // Whether the stage's folder holds a stamp of key.hash() (force aside).
  bool up_to_date(const Stage& stage) const;

  // Records what was done to a stage outside run() (a sharded run's shard, a stage it only
  // checked), for records() and the journal.
  void record(const StageRecord& record);

  const std::vector<StageRecord>& records() const { return records_; }
  int ran() const;      // stages run so far
  int skipped() const;  // stages skipped so far

 private:
  void write_journal() const;
  bool force_;
  std::string journal_;
  std::vector<StageRecord> records_;
  double started_;
};

}  // namespace iis::pipeline
