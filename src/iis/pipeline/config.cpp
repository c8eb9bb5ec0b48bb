// Parsing and validation of the `iis run` YAML config: every key known, typed and ranged.
#include "iis/pipeline/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <limits>
#include <set>
#include <sstream>
#include <type_traits>
#include <variant>

#include "iis/concepts/concept_type.hpp"
#include "iis/concepts/registry.hpp"
#include "iis/core/device.hpp"
#include "iis/core/error.hpp"
#include "iis/core/files.hpp"
#include "iis/elements/elements.hpp"

namespace iis::pipeline {
namespace {

const char* kHint = "see configs/demo.yaml for a complete, commented example";

// A YAML mapping being read: knows its dotted path and file, so every message can say
// "demo.yaml line 7: fit.epochs ...".
class Section {
 public:
  Section(YAML::Node node, std::string path, std::string source)
      : node_(std::move(node)), path_(std::move(path)), source_(std::move(source)) {}

  // Every key must be one of `valid`; otherwise an error names the nearest valid key.
  void only_keys(const std::vector<std::string>& valid) const {
    std::set<std::string> seen;
    for (const auto& kv : node_) {
      // YAML allows any node as a key ("? [a, b]: 1"); a config key is a plain name.
      IIS_CHECK_HINT(kv.first.IsScalar(),
                     where(kv.first) << "a key " << (path_.empty() ? "" : "under '" + path_ + "' ")
                                     << "is not a name (a mapping, a list or empty)",
                     "keys are plain names, e.g. `epochs: 3`; " << kHint);
      const std::string key = kv.first.Scalar();
      IIS_CHECK_HINT(seen.insert(key).second,
                     where(kv.first) << "'" << dotted(key) << "' given twice", "keep one of them");
      if (std::find(valid.begin(), valid.end(), key) != valid.end()) continue;
      IIS_FAIL(where(kv.first) << "unknown key '" << dotted(key) << "'; did you mean '"
                               << dotted(nearest(key, valid)) << "'?",
               "valid keys" << (path_.empty() ? "" : " under " + path_) << ": " << join(valid));
    }
  }

  bool has(const std::string& key) const { return node_[key] && !node_[key].IsNull(); }

  template <typename T>
  T get(const std::string& key, T fallback) const {
    return has(key) ? convert<T>(node_[key], key) : fallback;
  }

  template <typename T>
  T require(const std::string& key) const {
    IIS_CHECK_HINT(has(key), where(node_) << "missing required key '" << dotted(key) << "'", kHint);
    return convert<T>(node_[key], key);
  }

  Section child(const std::string& key) const {
    YAML::Node n = node_[key];
    if (n && !n.IsNull())
      IIS_CHECK_HINT(n.IsMap(), where(n) << "'" << dotted(key) << "' must be a mapping of keys",
                     kHint);
    return Section(n && n.IsMap() ? n : YAML::Node(YAML::NodeType::Map), dotted(key), source_);
  }

  YAML::Node node(const std::string& key) const { return node_[key]; }
  std::string where(const YAML::Node& n) const {
    std::ostringstream s;
    s << source_;
    if (n.Mark().line >= 0) s << " line " << n.Mark().line + 1;
    return s.str() + ": ";
  }
  std::string dotted(const std::string& key) const {
    return path_.empty() ? key : path_ + "." + key;
  }
  const std::string& source() const { return source_; }
  static std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
    return out;
  }

 private:
  template <typename T>
  static const char* type_name();

  template <typename T>
  T convert(const YAML::Node& n, const std::string& key) const {
    try {
      if constexpr (std::is_same_v<T, std::vector<double>> ||
                    std::is_same_v<T, std::vector<int64_t>> ||
                    std::is_same_v<T, std::vector<std::string>>) {
        // A single value stands for a list of one.
        if (n.IsScalar()) return T{n.as<typename T::value_type>()};
        if (!n.IsSequence()) throw YAML::BadConversion(n.Mark());
      } else {
        if (!n.IsScalar()) throw YAML::BadConversion(n.Mark());
      }
      return n.as<T>();
    } catch (const YAML::BadConversion&) {
      std::string text;
      if (n.IsScalar()) text = ", got '" + n.Scalar() + "'";
      IIS_FAIL(where(n) << "'" << dotted(key) << "' must be " << type_name<T>() << text, kHint);
    }
  }

  YAML::Node node_;
  std::string path_, source_;
};

template <>
const char* Section::type_name<int64_t>() {
  return "an integer";
}
template <>
const char* Section::type_name<double>() {
  return "a number";
}
template <>
const char* Section::type_name<bool>() {
  return "true or false";
}
template <>
const char* Section::type_name<std::string>() {
  return "a string";
}
template <>
const char* Section::type_name<std::vector<double>>() {
  return "a list of numbers";
}
template <>
const char* Section::type_name<std::vector<int64_t>>() {
  return "a list of integers";
}
template <>
const char* Section::type_name<std::vector<std::string>>() {
  return "a list of strings";
}

void check_one_of(const Section& s, const std::string& key, const std::string& value,
                  const std::vector<std::string>& valid) {
  if (std::find(valid.begin(), valid.end(), value) != valid.end()) return;
  std::string list;
  for (const auto& v : valid) list += (list.empty() ? "" : " | ") + v;
  IIS_FAIL(s.where(s.node(key)) << "'" << s.dotted(key) << "' is '" << value << "'; did you mean '"
                                << nearest(value, valid) << "'?",
           "valid values: " << list);
}

void check_range(const Section& s, const std::string& key, double value, double lo, double hi,
                 const std::string& range) {
  IIS_CHECK_HINT(value >= lo && value <= hi,
                 s.where(s.node(key))
                     << "'" << s.dotted(key) << "' is " << value << ", outside " << range,
                 kHint);
}

bool valid_name(const std::string& name) {
  if (name.empty() || name[0] == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

// `finetune:` of a backbone entry: the options of `iis finetune` under their flag names ('_'
// for '-'), with its defaults, checked by its own validation; `from` names the entry it starts
// from.
void parse_finetune(const Section& f, BackboneConfig& b) {
  f.only_keys({"from", "lambda", "ratio", "epochs", "seed", "lr", "head_lr", "batch_size",
               "concept_type", "num_concepts", "concept_refresh", "concept_grad", "head_init",
               "head_epochs", "train_limit", "val_limit"});
  finetune::FinetuneOptions& o = b.finetune_options;
  b.finetune = true;
  b.from = f.require<std::string>("from");
  o.lambda = f.get<double>("lambda", o.lambda);
  o.ratio = f.get<double>("ratio", o.ratio);
  o.epochs = f.get<int64_t>("epochs", o.epochs);
  const int64_t seed = f.get<int64_t>("seed", 0);
  check_range(f, "seed", static_cast<double>(seed), 0, 1e18, "≥ 0");
  o.seed = static_cast<uint64_t>(seed);
  o.lr = f.get<double>("lr", o.lr);
  o.head_lr = f.get<double>("head_lr", o.head_lr);
  o.batch_size = f.get<int64_t>("batch_size", o.batch_size);
  o.concept_type = f.get<std::string>("concept_type", o.concept_type);
  o.num_concepts = f.get<int64_t>("num_concepts", o.num_concepts);
  o.concept_refresh = f.get<int64_t>("concept_refresh", o.concept_refresh);
  o.concept_grad = f.get<bool>("concept_grad", o.concept_grad);
  o.head_init = f.get<std::string>("head_init", o.head_init);
  o.head_epochs = f.get<int64_t>("head_epochs", o.head_epochs);
  o.train_limit = f.get<int64_t>("train_limit", o.train_limit);
  o.val_limit = f.get<int64_t>("val_limit", o.val_limit);
  with_context(
      f.source() + ": 'finetune:' of backbone " + b.name + " (the options of `iis finetune`)",
      [&] { o.validate_settings(); });
}

// An entry's `concept_types`: a non-empty subset of the run's.
void check_entry_concept_types(const Section& s, const std::vector<std::string>& types,
                               const std::vector<std::string>& run_types) {
  if (!s.has("concept_types")) return;
  const std::string hint = "an entry's concept_types is a subset of the run's concept_types (" +
                           Section::join(run_types) + "); leave it out to fit them all";
  IIS_CHECK_HINT(
      !types.empty(),
      s.where(s.node("concept_types")) << "'" << s.dotted("concept_types") << "' is empty", hint);
  for (const auto& t : types)
    IIS_CHECK_HINT(std::find(run_types.begin(), run_types.end(), t) != run_types.end(),
                   s.where(s.node("concept_types"))
                       << "'" << s.dotted("concept_types") << "' lists '" << t
                       << "', which the run's concept_types does not",
                   hint);
}

BackboneConfig parse_backbone(const YAML::Node& node, size_t index, const std::string& source,
                              const std::vector<std::string>& run_types) {
  const std::string path = "backbones[" + std::to_string(index) + "]";
  BackboneConfig b;
  if (node.IsScalar()) {  // "- model.ts" is short for {spec: model.ts}
    b.spec = node.Scalar();
  } else {
    Section s(node, path, source);
    IIS_CHECK_HINT(node.IsMap(), s.where(node) << path << " must be a spec string or a mapping",
                   kHint);
    s.only_keys({"name", "spec", "pretrain", "finetune", "concept_types"});
    b.name = s.get<std::string>("name", "");
    b.concept_types = s.get<std::vector<std::string>>("concept_types", {});
    check_entry_concept_types(s, b.concept_types, run_types);
    b.spec = s.get<std::string>("spec", "");
    IIS_CHECK_HINT(
        int(s.has("spec")) + int(s.has("pretrain")) + int(s.has("finetune")) == 1,
        s.where(node) << path << " needs exactly one of 'spec', 'pretrain' and 'finetune'",
        "spec: a TorchScript file or native:<arch>@ckpt.pt; pretrain: {arch: cnn2, epochs: 3, "
        "seed: 0}; finetune: {from: OTHER_ENTRY, lambda: 1, epochs: 1}");
    if (s.has("finetune")) parse_finetune(s.child("finetune"), b);
    if (s.has("pretrain")) {
      Section p = s.child("pretrain");
      p.only_keys({"arch", "epochs", "seed", "train_limit"});
      b.pretrain = true;
      b.arch = p.require<std::string>("arch");
      b.epochs = p.get<int64_t>("epochs", 5);
      b.seed = p.get<int64_t>("seed", 0);
      check_range(p, "epochs", static_cast<double>(b.epochs), 0, 1000, "0…1000");
      check_range(p, "seed", static_cast<double>(b.seed), 0, 1e18, "≥ 0");
      if (p.has("train_limit")) {
        b.train_limit = p.get<int64_t>("train_limit", 0);
        check_range(p, "train_limit", static_cast<double>(b.train_limit), 0, 1e15, "≥ 0");
      }
    }
  }
  if (b.name.empty()) {
    IIS_CHECK_HINT(!b.finetune, source << ": " << path << " (a finetune entry) needs a name",
                   "give the entry a name: key");
    if (b.pretrain) {
      b.name = b.arch + "_s" + std::to_string(b.seed) + "_e" + std::to_string(b.epochs);
    } else {  // native:cnn2@runs/x/epoch_3.pt → cnn2_epoch_3; dir/model.ts → model
      std::string spec = b.spec;
      if (spec.rfind("native:", 0) == 0) spec = spec.substr(7);
      const auto at = spec.find('@');
      std::string arch = spec.substr(0, at);
      std::string file = at == std::string::npos ? "" : spec.substr(at + 1);
      auto stem = [](const std::string& f) {
        std::string base = f.substr(f.find_last_of('/') + 1);
        return base.substr(0, base.find_last_of('.'));
      };
      b.name = b.spec.rfind("native:", 0) == 0
                   ? (file.empty() ? arch + "_untrained" : arch + "_" + stem(file))
                   : stem(b.spec);
      for (auto& c : b.name)
        if (!valid_name(std::string(1, c))) c = '_';
    }
  }
  IIS_CHECK_HINT(valid_name(b.name),
                 source << ": backbone name '" << b.name << "' (" << path
                        << ") may hold only letters, digits, '.', '_' and '-'",
                 "give the entry a name: key");
  return b;
}

}  // namespace

// Grows with `iis fit --concept-type` (issue 6: cluster, end2end).
// Sets an option's field from its key, when the section has it (a scalar or a list of numbers).
void read_option(const Section& section, const core::Option& option) {
  std::visit(
      [&](auto* field) {
        using T = std::remove_pointer_t<decltype(field)>;
        if constexpr (std::is_same_v<T, uint64_t> || std::is_same_v<T, std::vector<uint64_t>>) {
          IIS_CHECK(false, "option '" << option.key << "' has no config form");
        } else {
          *field = section.get<T>(option.key, *field);
        }
      },
      option.value);
}

// An int option of a library struct read from `key`: any whole number the YAML holds that
// fits an int (the library's own validation checks its range).
void read_int(const Section& s, const std::string& key, int& field) {
  const int64_t v = s.get<int64_t>(key, field);
  check_range(s, key, static_cast<double>(v), std::numeric_limits<int>::min(),
              std::numeric_limits<int>::max(), "the range of an int");
  field = static_cast<int>(v);
}

// `concepts:`: the options of `iis elements` (their keys without '--', '_' for '-'), with its
// defaults, checked by its own validation.
void parse_concepts_section(const Section& top, elements::ElementsOptions& o) {
  Section k = top.child("concepts");
  k.only_keys({"kind", "images_per_class", "image_select", "seed", "scales", "compactness", "sigma",
               "masks_per_scale", "min_area", "jaccard", "fill", "grid", "patch_size"});
  const std::string kind = k.get<std::string>("kind", elements::to_string(o.kind));
  check_one_of(k, "kind", kind, {"segments", "patches"});
  o.kind = kind == "segments" ? elements::ElementKind::Segments : elements::ElementKind::Patches;
  read_int(k, "images_per_class", o.images_per_class);
  const std::string select = k.get<std::string>("image_select", elements::to_string(o.select));
  check_one_of(k, "image_select", select, {"first", "random"});
  o.select = select == "random" ? elements::ImageSelect::Random : elements::ImageSelect::First;
  const int64_t seed = k.get<int64_t>("seed", static_cast<int64_t>(o.seed));
  check_range(k, "seed", static_cast<double>(seed), 0, 1e18, "≥ 0");
  o.seed = static_cast<uint64_t>(seed);
  const std::vector<int64_t> scales =
      k.get<std::vector<int64_t>>("scales", std::vector<int64_t>(o.scales.begin(), o.scales.end()));
  for (auto n : scales)
    check_range(k, "scales", static_cast<double>(n), std::numeric_limits<int>::min(),
                std::numeric_limits<int>::max(), "the range of an int");
  o.scales.assign(scales.begin(), scales.end());
  o.compactness = k.get<double>("compactness", o.compactness);
  o.sigma = k.get<double>("sigma", o.sigma);
  read_int(k, "masks_per_scale", o.masks_per_scale);
  o.min_area = k.get<double>("min_area", o.min_area);
  o.jaccard = k.get<double>("jaccard", o.jaccard);
  read_int(k, "fill", o.fill);
  read_int(k, "grid", o.grid);
  read_int(k, "patch_size", o.patch_size);
  with_context(top.source() + ": 'concepts:' (the options of `iis elements`)",
               [&] { o.validate_settings(); });
}

// `fit:`: the options of `iis fit` under their flag names ('_' for '-'), with fit's defaults,
// checked by fit's own validation (with the top-level seeds and ratios).
void parse_fit_section(const Section& top, RunConfig& c) {
  Section f = top.child("fit");
  fit::FitOptions& o = c.fit;
  const core::Options table = fit::fit_options(o);
  std::vector<std::string> keys;
  for (const auto& option : table)
    if (option.in_config) keys.push_back(option.key);
  f.only_keys(keys);
  for (const auto& option : table)
    if (option.in_config) read_option(f, option);
  // The device is checked where the run starts, by the same parser (core::check_device), as
  // it depends on this machine; a config is valid or not anywhere.
  fit::FitOptions checked = o;
  checked.device = "cpu";
  with_context(top.source() + ": 'seeds', 'ratios' or 'fit:' (the options of `iis fit`)",
               [&] { fit::validate_fit_settings(checked); });
}

// The YAML document, a mapping.
YAML::Node load_yaml(const std::string& yaml, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    IIS_FAIL(source << " line " << e.mark.line + 1 << ": not valid YAML: " << e.msg,
             "check the indentation and the ':' after each key");
  }
  IIS_CHECK_HINT(root.IsMap(), source << ": the config must be a mapping of keys", kHint);
  return root;
}

// The top-level scalars and lists: out, device, seeds, ratios, concept_types.
void parse_top_keys(const Section& top, RunConfig& c) {
  c.out = top.get<std::string>("out", "");
  c.device = top.get<std::string>("device", c.device);
  // The parser every command uses; whether the GPU exists is checked where the run starts.
  IIS_CHECK_HINT(core::parse_device(c.device).has_value(),
                 top.where(top.node("device")) << "'device' is '" << c.device << "'",
                 "valid values: cpu | cuda | cuda:N");
  // seeds and ratios are top-level keys but options of `iis fit`, checked with fit:.
  std::vector<int64_t> seeds(c.fit.seeds.begin(), c.fit.seeds.end());
  seeds = top.get<std::vector<int64_t>>("seeds", seeds);
  for (auto seed : seeds)
    check_range(top, "seeds", static_cast<double>(seed), 0, 1e18, "seeds ≥ 0");
  c.fit.seeds.assign(seeds.begin(), seeds.end());
  c.fit.ratios = top.get<std::vector<double>>("ratios", c.fit.ratios);
  c.concept_types = top.get<std::vector<std::string>>("concept_types", c.concept_types);
  IIS_CHECK_HINT(!c.concept_types.empty(), top.source() << ": 'concept_types' is empty", kHint);
  for (const auto& t : c.concept_types)
    check_one_of(top, "concept_types", t, concepts::concept_type_names());
}

// `text:`: the CLIP archive and the concepts of text concepts; required when concept_types
// lists text.
void parse_text_section(const Section& top, RunConfig& c) {
  const bool wanted =
      std::find(c.concept_types.begin(), c.concept_types.end(), "text") != c.concept_types.end();
  IIS_CHECK_HINT(!wanted || top.has("text"),
                 top.where(top.node("concept_types"))
                     << "'concept_types' lists text but the config has no 'text:' section",
                 "text: {clip: CLIP.pt, concepts: cifar10} (a CLIP TorchScript archive, and a "
                 "shipped concept set's name or a file of concepts, one a line)");
  if (!top.has("text")) return;
  Section t = top.child("text");
  t.only_keys({"clip", "concepts", "truncate"});
  c.text.clip = t.require<std::string>("clip");
  c.text.concepts = t.require<std::string>("concepts");
  c.text.truncate = t.get<bool>("truncate", c.text.truncate);
}

// `dataset:`: the two splits, where elements come from, and the embedding limits.
void parse_dataset_section(const Section& top, DatasetConfig& dataset) {
  IIS_CHECK_HINT(top.has("dataset"), top.source() << ": missing required key 'dataset'",
                 "dataset: {train: TRAIN_IMAGES, val: VAL_IMAGES}; " << kHint);
  Section d = top.child("dataset");
  d.only_keys({"train", "val", "elements_from", "train_limit", "val_limit"});
  dataset.train = d.require<std::string>("train");
  dataset.val = d.require<std::string>("val");
  dataset.elements_from = d.get<std::string>("elements_from", dataset.elements_from);
  check_one_of(d, "elements_from", dataset.elements_from, {"train", "val"});
  dataset.train_limit = d.get<int64_t>("train_limit", 0);
  dataset.val_limit = d.get<int64_t>("val_limit", 0);
  check_range(d, "train_limit", static_cast<double>(dataset.train_limit), 0, 1e15, "≥ 0");
  check_range(d, "val_limit", static_cast<double>(dataset.val_limit), 0, 1e15, "≥ 0");
}

// `backbones:`: a non-empty list of entries with distinct names.
void parse_backbones(const Section& top, const std::vector<std::string>& run_types,
                     std::vector<BackboneConfig>& out) {
  const std::string& source = top.source();
  IIS_CHECK_HINT(top.has("backbones"), source << ": missing required key 'backbones'",
                 "backbones: a list of {name, spec} or {name, pretrain: {arch, epochs, seed}}");
  YAML::Node backbones = top.node("backbones");
  IIS_CHECK_HINT(backbones.IsSequence() && backbones.size() > 0,
                 top.where(backbones) << "'backbones' must be a non-empty list", kHint);
  std::set<std::string> names;
  for (size_t i = 0; i < backbones.size(); ++i) {
    out.push_back(parse_backbone(backbones[i], i, source, run_types));
    IIS_CHECK_HINT(names.insert(out.back().name).second,
                   source << ": two backbones are named '" << out.back().name << "'",
                   "give each entry its own name: key");
  }
  for (const auto& b : out) {
    if (!b.finetune) continue;
    const auto from = std::find_if(out.begin(), out.end(),
                                   [&](const BackboneConfig& o) { return o.name == b.from; });
    IIS_CHECK_HINT(from != out.end() && !from->finetune,
                   source << ": backbone " << b.name << ": finetune.from '" << b.from
                          << "' is not the name of a spec or pretrain entry",
                   "name the entry it starts from, e.g. from: resnet8-w16_e1");
  }
}

// `pretrain:` and `embed:`: the settings shared by the pretrain entries and the embeddings.
void parse_pretrain_and_embed(const Section& top, RunConfig& c) {
  Section p = top.child("pretrain");
  p.only_keys({"batch_size", "lr", "train_limit"});
  c.pretrain.batch_size = p.get<int64_t>("batch_size", c.pretrain.batch_size);
  check_range(p, "batch_size", static_cast<double>(c.pretrain.batch_size), 1, 65536, "1…65536");
  c.pretrain.lr = p.get<double>("lr", c.pretrain.lr);
  check_range(p, "lr", c.pretrain.lr, 1e-12, 10, "(0, 10]");
  c.pretrain.train_limit = p.get<int64_t>("train_limit", 0);
  check_range(p, "train_limit", static_cast<double>(c.pretrain.train_limit), 0, 1e15, "≥ 0");

  Section e = top.child("embed");
  e.only_keys({"batch_size"});
  c.embed_batch_size = e.get<int64_t>("batch_size", c.embed_batch_size);
  check_range(e, "batch_size", static_cast<double>(c.embed_batch_size), 1, 65536, "1…65536");
}

// `report:`: what the report stage adds to the report (explanations of validation images).
void parse_report_section(const Section& top, RunConfig& c) {
  Section r = top.child("report");
  r.only_keys({"explain"});
  c.report_explain = r.get<int64_t>("explain", 0);
  check_range(r, "explain", static_cast<double>(c.report_explain), 0, 1000, "0…1000");
}

RunConfig parse_run_config(const std::string& yaml, const std::string& source) {
  YAML::Node root = load_yaml(yaml, source);
  RunConfig c;
  c.source = source;
  Section top(root, "", source);
  top.only_keys({"out", "device", "seeds", "ratios", "concept_types", "dataset", "concepts",
                 "backbones", "pretrain", "embed", "fit", "text", "report"});
  parse_top_keys(top, c);
  parse_dataset_section(top, c.dataset);
  parse_concepts_section(top, c.concepts);
  parse_backbones(top, c.concept_types, c.backbones);
  parse_pretrain_and_embed(top, c);
  parse_fit_section(top, c);
  parse_text_section(top, c);
  parse_report_section(top, c);
  return c;
}

std::vector<std::string> RunConfig::concept_types_of(const BackboneConfig& b) const {
  if (b.concept_types.empty()) return concept_types;
  std::vector<std::string> out;
  for (const auto& t : concept_types)
    if (std::find(b.concept_types.begin(), b.concept_types.end(), t) != b.concept_types.end())
      out.push_back(t);
  return out;
}

RunConfig load_run_config(const std::string& path) {
  return parse_run_config(core::read_text(path), path);
}

}  // namespace iis::pipeline
