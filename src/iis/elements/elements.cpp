// run_elements(): selection of images, parallel extraction, resumable journal, and the
// manifest, labels and skip list of `iis elements`.
#include "iis/elements/elements.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>

#include "iis/core/error.hpp"
#include "iis/core/files.hpp"
#include "iis/core/parallel.hpp"
#include "iis/core/paths.hpp"
#include "iis/core/progress.hpp"
#include "iis/core/random.hpp"
#include "iis/core/threads.hpp"
#include "iis/data/dataset.hpp"
#include "iis/elements/detail/element_files.hpp"
#include "iis/elements/patches.hpp"
#include "iis/elements/segments.hpp"
#include "iis/image/slic.hpp"
#include "iis/io/npy.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace iis::elements {

using detail::kJournal;
using detail::kLabels;
using detail::kManifest;
using detail::kSkipped;
using detail::kSummary;

namespace {

// A class name usable as one folder name: no separators, no control characters, not "."/"..".
std::string safe_file_name(const std::string& name) {
  std::string out;
  for (unsigned char c : name)
    out += (c == '/' || c == '\\' || c < 0x20) ? '_' : static_cast<char>(c);
  if (out.empty() || out == "." || out == "..") out = "_" + out;
  return out;
}

// The dataset indices used: per class, the first N or a seeded sample of N, in dataset order.
std::vector<int64_t> select_images(const data::Dataset& dataset, const ElementsOptions& o) {
  std::vector<std::vector<int64_t>> by_class(dataset.class_names().size());
  for (int64_t i = 0; i < dataset.size(); ++i) {
    by_class.at(static_cast<size_t>(dataset.label(i))).push_back(i);
  }
  core::SeededRandom rng(o.seed);  // one stream across the classes, in class order
  std::vector<int64_t> selected;
  for (auto& indices : by_class) {
    const size_t n = o.images_per_class == 0
                         ? indices.size()
                         : std::min(indices.size(), static_cast<size_t>(o.images_per_class));
    if (o.select == ImageSelect::Random) {
      rng.sample_front(indices, n, core::IndexMap::Exact);
      std::sort(indices.begin(), indices.begin() + static_cast<std::ptrdiff_t>(n));
    }
    selected.insert(selected.end(), indices.begin(),
                    indices.begin() + static_cast<std::ptrdiff_t>(n));
  }
  std::sort(selected.begin(), selected.end());
  return selected;
}

// One selected image and where its elements go.
struct Job {
  int64_t index = 0;   // in the dataset
  std::string source;  // dataset.source(index)
  int64_t label = 0;
  std::string folder;  // class folder name under out
  std::string stem;    // unique within the folder
};

// The settings that determine the output, as JSON (also the fingerprint's input).
json settings_json(const ElementsOptions& o) {
  json j = {{"kind", to_string(o.kind)},
            {"images_per_class", o.images_per_class},
            {"image_select", to_string(o.select)}};
  if (o.select == ImageSelect::Random) j["seed"] = o.seed;
  if (o.kind == ElementKind::Segments) {
    j.update({{"scales", o.scales},
              {"compactness", o.compactness},
              {"sigma", o.sigma},
              {"masks_per_scale", o.masks_per_scale},
              {"min_area", o.min_area},
              {"jaccard", o.jaccard},
              {"fill", o.fill}});
  } else {
    j.update({{"grid", o.grid}, {"patch_size", o.patch_size}});
  }
  return j;
}

void write_png(const std::string& path, const cv::Mat& rgb) {
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  std::vector<unsigned char> bytes;
  IIS_CHECK(cv::imencode(".png", bgr, bytes), "cannot encode " << path << " as PNG");
  core::write_text_atomic(path, std::string(bytes.begin(), bytes.end()));
}

// The element records of one image (its manifest lines), its PNGs written under `out`.
json extract(const data::Dataset& dataset, const Job& job, const ElementsOptions& o,
             const std::string& out) {
  const cv::Mat rgb = dataset.image(job.index);  // iis::Error if unreadable
  json records = json::array();
  auto add = [&](const cv::Mat& element, const cv::Rect& box, double area, json extra) {
    const std::string rel =
        job.folder + "/" + job.stem + "_" + std::to_string(records.size()) + ".png";
    write_png((fs::path(out) / rel).string(), element);
    json r = {{"path", rel},
              {"source", job.source},
              {"class", job.label},
              {"class_name", dataset.class_names()[static_cast<size_t>(job.label)]},
              {"kind", o.kind == ElementKind::Segments ? "segment" : "patch"},
              {"bbox", {box.x, box.y, box.width, box.height}},
              {"area", area},
              {"element", records.size()}};
    r.update(extra);
    records.push_back(std::move(r));
  };
  if (o.kind == ElementKind::Segments) {
    std::vector<ScaleLabels> scales;
    for (int n : o.scales) {
      image::SlicOptions slic;
      slic.n_segments = n;
      slic.compactness = o.compactness;
      slic.sigma = o.sigma;
      scales.push_back({n, image::slic(rgb, slic)});
    }
    SegmentSelection selection;
    selection.masks_per_scale = o.masks_per_scale;
    selection.min_area = o.min_area;
    selection.jaccard = o.jaccard;
    for (const SegmentMask& m : select_segments(scales, selection)) {
      add(segment_element(rgb, m, o.fill), m.bbox, m.area, {{"scale", m.scale}});
    }
  } else {
    const double pixels = static_cast<double>(rgb.total());
    for (const Patch& p : grid_patches(rgb, o.grid, o.patch_size)) {
      add(p.image, p.cell, p.cell.area() / pixels, {{"scale", o.grid}, {"cell", {p.row, p.col}}});
    }
  }
  return records;
}

// Journal lines of earlier runs: source -> element records, for images whose PNGs all exist.
// A partly written last line (an interrupted run) is ignored.
std::map<std::string, json> read_journal(const std::string& path, const std::string& out) {
  std::map<std::string, json> done;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.contains("source") || !j.contains("elements")) continue;
    bool complete = true;
    std::error_code ec;
    for (const auto& r : j["elements"]) {
      complete &= fs::is_regular_file(fs::path(out) / r.at("path").get<std::string>(), ec);
    }
    if (complete) done[j["source"].get<std::string>()] = j["elements"];
  }
  return done;
}

// Refuses a non-empty folder made from other inputs unless `force`; with `force`, removes
// what an earlier `iis elements` run listed there. Returns true when the folder holds an
// earlier run of the same inputs (resume).
bool prepare_out(const ElementsOptions& o, const std::string& fingerprint) {
  const fs::path out(o.out);
  std::error_code ec;
  if (!fs::exists(out, ec)) return false;
  IIS_CHECK_HINT(fs::is_directory(out, ec), "--out " << o.out << " is a file, not a folder",
                 "choose a folder for the elements");
  if (fs::is_empty(out, ec)) return false;
  json previous;
  const fs::path summary = out / kSummary;
  if (fs::is_regular_file(summary, ec)) {
    previous = json::parse(core::read_text(summary.string()), nullptr, false);
  }
  const bool ours = previous.is_object() && previous.contains("fingerprint");
  if (ours && previous["fingerprint"] == fingerprint) return true;
  IIS_CHECK_HINT(o.force,
                 "--out " << o.out << " is not empty and "
                          << (ours ? "holds elements made from other inputs or settings (" +
                                         previous.value("data", std::string("?")) + ", " +
                                         previous.value("settings", json()).dump() + ")"
                                   : std::string("was not made by `iis elements`")),
                 "choose another --out, or add --force to replace its elements");
  if (ours) {
    // Remove the element PNGs listed by the earlier run, then its bookkeeping files.
    for (const auto& [source, records] : read_journal((out / kJournal).string(), o.out)) {
      for (const auto& r : records) fs::remove(out / r.at("path").get<std::string>(), ec);
    }
    std::ifstream manifest(out / kManifest);
    std::string line;
    while (std::getline(manifest, line)) {
      json r = json::parse(line, nullptr, false);
      if (r.is_object() && r.contains("path")) {
        fs::remove(out / r["path"].get<std::string>(), ec);
      }
    }
    for (const fs::directory_entry& entry : fs::directory_iterator(out, ec)) {
      std::error_code e2;
      if (entry.is_directory(e2) && fs::is_empty(entry.path(), e2)) fs::remove(entry.path(), e2);
    }
    for (const char* name : {kJournal, kManifest, kLabels, kSkipped, kSummary}) {
      fs::remove(out / name, ec);
    }
  }
  return false;
}

// The selected images, each with a class folder and a stem unique within it.
struct Plan {
  std::vector<std::string> folders;  // per class
  std::vector<Job> jobs;
};

Plan plan_jobs(const data::Dataset& dataset, const ElementsOptions& options) {
  Plan plan;
  std::set<std::string> used_folders;
  for (size_t c = 0; c < dataset.class_names().size(); ++c) {
    std::string name = safe_file_name(dataset.class_names()[c]);
    if (!used_folders.insert(name).second) name += "_" + std::to_string(c);
    used_folders.insert(name);
    plan.folders.push_back(name);
  }
  std::map<std::string, int> stem_uses;  // "<folder>/<stem>" -> times used
  for (int64_t index : select_images(dataset, options)) {
    Job job;
    job.index = index;
    job.source = dataset.source(index);
    job.label = dataset.label(index);
    job.folder = plan.folders.at(static_cast<size_t>(job.label));
    job.stem = safe_file_name(dataset.stem(index));
    const int uses = ++stem_uses[job.folder + "/" + job.stem];
    if (uses > 1) job.stem += "-" + std::to_string(uses);
    plan.jobs.push_back(std::move(job));
  }
  return plan;
}

// Rewrites the journal with the complete entries of `done` only (it is appended to next).
void rewrite_journal(const std::string& path, const std::vector<Job>& jobs,
                     const std::map<std::string, json>& done) {
  std::string kept;
  for (const Job& job : jobs) {
    auto it = done.find(job.source);
    if (it != done.end()) {
      kept += json{{"source", job.source}, {"elements", it->second}}.dump() + "\n";
    }
  }
  core::write_text_atomic(path, kept);
}

// One image's outcome: its element records, or why it was skipped.
struct Extracted {
  json records;        // on success
  std::string reason;  // non-empty when skipped
};

// An unreadable image (iis::Error, OpenCV) is skipped; anything else (a PNG that cannot be
// written) stops the whole run.
Extracted extract_or_skip(const data::Dataset& dataset, const Job& job, const ElementsOptions& o) {
  Extracted r;
  try {
    r.records = extract(dataset, job, o, o.out);
  } catch (const Error& e) {
    r.reason = e.what();
  } catch (const cv::Exception& e) {
    r.reason = std::string("OpenCV: ") + e.what();
  }
  return r;
}

// What the extraction of the pending images found, per job index.
struct Extraction {
  std::vector<json> records;                   // per job (done earlier: from the journal)
  std::map<size_t, std::string> skip_reasons;  // job -> why it was skipped
};

// Extracts the pending jobs on worker threads; this thread journals each image in job order
// (so that an interrupted run resumes after it) and draws progress.
void extract_pending(const data::Dataset& dataset, const std::vector<Job>& jobs,
                     const std::vector<size_t>& pending, const ElementsOptions& o,
                     const std::string& journal_path, Extraction& found) {
  std::ofstream journal(journal_path, std::ios::app);
  IIS_CHECK_HINT(journal.good(), "cannot write " << journal_path, "check that --out is writable");
  const int threads = std::max<int>(1, std::min<int>(o.threads > 0 ? o.threads : core::threads(),
                                                     static_cast<int>(pending.size())));
  core::Progress progress("elements (" + std::string(to_string(o.kind)) + ")",
                          static_cast<int64_t>(pending.size()), "images");
  int64_t element_count = 0;
  {
    core::OrderedMap<Extracted> results(
        0, static_cast<int64_t>(pending.size()), threads, /*capacity=*/4 * threads,
        [&](int64_t p) { return extract_or_skip(dataset, jobs[pending[p]], o); });
    for (size_t job : pending) {
      Extracted r = results.next();
      if (!r.reason.empty()) {
        found.skip_reasons[job] = r.reason;
      } else {
        journal << json{{"source", jobs[job].source}, {"elements", r.records}}.dump() << "\n";
        journal.flush();
        element_count += static_cast<int64_t>(r.records.size());
        found.records[job] = std::move(r.records);
      }
      progress.set_status(std::to_string(element_count) + " elements, " +
                          std::to_string(found.skip_reasons.size()) + " skipped");
      progress.advance();
    }
  }
  IIS_CHECK_HINT(journal.good(), "writing " << journal_path << " failed", "check free disk space");
  progress.finish();
}

// Writes manifest.jsonl and labels.npy in the ImageFolder order of `out` (class folder, then
// file name, byte order) and skipped.txt; returns the element count and the skip list.
std::pair<int64_t, json> write_run_lists(const fs::path& out, const std::vector<Job>& jobs,
                                         const Extraction& found) {
  std::vector<const json*> manifest;
  for (const json& image_records : found.records) {
    for (const json& r : image_records) manifest.push_back(&r);
  }
  std::sort(manifest.begin(), manifest.end(), [](const json* a, const json* b) {
    return (*a)["path"].get<std::string>() < (*b)["path"].get<std::string>();
  });
  std::string manifest_text;
  std::vector<int64_t> labels;
  for (const json* r : manifest) {
    manifest_text += r->dump() + "\n";
    labels.push_back((*r)["class"].get<int64_t>());
  }
  std::string skipped_text;
  json skipped_json = json::array();
  for (const auto& [job, reason] : found.skip_reasons) {
    skipped_text += jobs[job].source + "\t" + reason + "\n";
    skipped_json.push_back({{"source", jobs[job].source}, {"reason", reason}});
  }
  detail::write_lists(out.string(), manifest_text, labels, skipped_text);
  return {static_cast<int64_t>(manifest.size()), skipped_json};
}

// The shard's part of the selected images: the i-th of n contiguous ranges of `all`. With
// more shards than images some parts are empty: such a shard writes an empty folder that
// merges like any other, so that a launcher may start more processes than there are images.
std::vector<Job> shard_jobs(const std::vector<Job>& all, const ElementsOptions& o) {
  const auto n = static_cast<int64_t>(all.size());
  const int64_t begin = n * o.shard_index / o.shard_count;
  const int64_t end = n * (o.shard_index + 1) / o.shard_count;
  return {all.begin() + begin, all.begin() + end};
}

}  // namespace

namespace detail {

void write_lists(const std::string& folder, const std::string& manifest,
                 const std::vector<int64_t>& labels, const std::string& skipped) {
  const fs::path out(folder);
  core::write_text_atomic((out / kManifest).string(), manifest);
  io::save_npy((out / kLabels).string(), torch::tensor(labels, torch::dtype(torch::kInt64))
                                             .reshape({static_cast<int64_t>(labels.size())}));
  core::write_text_atomic((out / kSkipped).string(), skipped);
}

}  // namespace detail

void apply_shard(ElementsOptions& options, const std::string& text, const core::Environment& env) {
  const core::ShardSpec shard = core::parse_shard(text, env);
  options.shard_index = shard.index;
  options.shard_count = shard.count;
  options.out = core::shard_name(options.out, shard.index, shard.count);
  if (shard.automatic) {
    core::log_info("--shard auto: shard " + std::to_string(shard.index) + "/" +
                   std::to_string(shard.count) + " into " + options.out + ", from " + shard.source);
  }
}

bool elements_complete(const std::string& folder) {
  std::error_code ec;
  const fs::path summary = fs::path(folder) / kSummary;
  if (!fs::is_regular_file(summary, ec)) return false;
  const json j = json::parse(core::read_text(summary.string()), nullptr, false);
  return j.is_object() && j.value("status", "") == "complete";
}

const char* to_string(ElementKind kind) {
  return kind == ElementKind::Segments ? "segments" : "patches";
}

const char* to_string(ImageSelect select) {
  return select == ImageSelect::First ? "first" : "random";
}

void ElementsOptions::validate() const {
  IIS_CHECK_HINT(!data.empty(), "--data is required", "give an ImageFolder root or IDX file");
  IIS_CHECK_HINT(!out.empty(), "--out is required", "give the folder to write elements to");
  validate_settings();
}

void ElementsOptions::validate_settings() const {
  IIS_CHECK_HINT(images_per_class >= 0,
                 "--images-per-class must be >= 0 (0 = all), got " << images_per_class, "");
  IIS_CHECK_HINT(!scales.empty(), "--scales needs at least one n_segments value", "e.g. 10,20,30");
  for (int s : scales) IIS_CHECK_HINT(s >= 1, "--scales values must be >= 1, got " << s, "");
  IIS_CHECK_HINT(compactness > 0, "--compactness must be > 0, got " << compactness, "");
  IIS_CHECK_HINT(sigma >= 0, "--sigma must be >= 0, got " << sigma, "");
  IIS_CHECK_HINT(masks_per_scale >= 1, "--masks-per-scale must be >= 1, got " << masks_per_scale,
                 "");
  IIS_CHECK_HINT(min_area >= 0 && min_area < 1, "--min-area must be in [0, 1), got " << min_area,
                 "it is a fraction of the image: 0.001 = 0.1 %");
  IIS_CHECK_HINT(jaccard >= 0 && jaccard <= 1, "--jaccard must be in [0, 1], got " << jaccard, "");
  IIS_CHECK_HINT(fill >= 0 && fill <= 255, "--fill must be in [0, 255], got " << fill, "");
  IIS_CHECK_HINT(grid >= 1 && grid <= 1024, "--grid must be in [1, 1024], got " << grid, "");
  IIS_CHECK_HINT(patch_size >= 1 && patch_size <= 8192,
                 "--patch-size must be in [1, 8192], got " << patch_size, "");
  IIS_CHECK_HINT(threads >= 0, "threads must be >= 0, got " << threads, "");
  IIS_CHECK_HINT(shard_count >= 1 && shard_index >= 0 && shard_index < shard_count,
                 "--shard must be i/n with 0 <= i < n, got " << shard_index << "/" << shard_count,
                 "e.g. --shard 0/4");
}

ElementsSummary run_elements(const ElementsOptions& options) {
  options.validate();
  core::check_output_apart({"--out", options.out}, {{"--data", options.data}});
  const auto start = std::chrono::steady_clock::now();
  const std::unique_ptr<data::Dataset> dataset = data::open_dataset(options.data);
  const Plan plan = plan_jobs(*dataset, options);  // the whole selection: names and stems
  const std::vector<Job> jobs = shard_jobs(plan.jobs, options);

  std::error_code ec;
  const std::string data_path = fs::weakly_canonical(options.data, ec).string();
  json sources = json::array();
  for (const Job& job : plan.jobs) sources.push_back(job.source);
  const json settings = settings_json(options);
  // The whole selection's fingerprint, which every shard records for the merge; a shard's own
  // (what resuming compares) adds its part.
  const std::string selection =
      core::fingerprint_text(data_path + "\n" + settings.dump() + "\n" + sources.dump());
  const std::string fingerprint =
      options.shard_count == 1
          ? selection
          : core::fingerprint_text(selection + "\nshard " + std::to_string(options.shard_index) +
                                   "/" + std::to_string(options.shard_count));

  const bool resume = prepare_out(options, fingerprint);
  core::make_dirs(options.out);
  const fs::path out(options.out);
  const std::string journal_path = (out / kJournal).string();
  std::map<std::string, json> done;
  if (resume) done = read_journal(journal_path, options.out);
  json summary = {{"data", data_path},
                  {"settings", settings},
                  {"fingerprint", fingerprint},
                  {"selection_fingerprint", selection},
                  {"shard", {options.shard_index, options.shard_count}},
                  {"status", "running"}};
  core::write_text_atomic((out / kSummary).string(), summary.dump(2) + "\n");
  rewrite_journal(journal_path, jobs, done);

  Extraction found;
  found.records.resize(jobs.size());
  std::vector<size_t> pending;
  for (size_t j = 0; j < jobs.size(); ++j) {
    auto it = done.find(jobs[j].source);
    if (it != done.end()) {
      found.records[j] = it->second;
    } else {
      pending.push_back(j);
    }
  }
  for (const std::string& folder : plan.folders) core::make_dirs((out / folder).string());
  if (!done.empty()) {
    core::log_info("resuming in " + options.out + ": " +
                   std::to_string(jobs.size() - pending.size()) + " of " +
                   std::to_string(jobs.size()) + " images already done");
  }
  extract_pending(*dataset, jobs, pending, options, journal_path, found);
  const auto [elements, skipped] = write_run_lists(out, jobs, found);

  ElementsSummary result;
  result.images = static_cast<int64_t>(jobs.size());
  result.images_resumed = static_cast<int64_t>(jobs.size() - pending.size());
  result.images_skipped = static_cast<int64_t>(found.skip_reasons.size());
  result.elements = elements;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.out = options.out;
  summary["status"] = "complete";
  summary["images"] = result.images;
  summary["images_resumed"] = result.images_resumed;
  summary["images_skipped"] = result.images_skipped;
  summary["elements"] = result.elements;
  summary["classes"] = dataset->class_names();
  summary["class_folders"] = plan.folders;
  summary["skipped"] = skipped;
  summary["seconds"] = result.seconds;
  core::write_text_atomic((out / kSummary).string(), summary.dump(2) + "\n");
  return result;
}

}  // namespace iis::elements
