// The inputs of `iis finetune`: splits, elements and their checks, and the run's identity.
#include <filesystem>

#include "iis/core/error.hpp"
#include "iis/core/files.hpp"
#include "iis/elements/elements.hpp"
#include "iis/embed/embed.hpp"
#include "iis/finetune/detail/session.hpp"
#include "iis/io/npy.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace iis::finetune::detail {
namespace {

// A path and, for a file, its content fingerprint.
json file_identity(const std::string& path) {
  json id{{"path", fs::absolute(path).lexically_normal().string()}};
  if (fs::is_regular_file(path)) id["fingerprint"] = core::fingerprint_file(path);
  return id;
}

// The files behind a backbone spec: the checkpoint or the TorchScript file and its YAML.
json backbone_identity(const std::string& spec) {
  json id{{"spec", spec}};
  std::string file = spec;
  if (spec.rfind("native:", 0) == 0) {
    const auto at = spec.find('@');
    file = at == std::string::npos ? "" : spec.substr(at + 1);
  }
  if (!file.empty() && fs::is_regular_file(file)) id["fingerprint"] = core::fingerprint_file(file);
  const fs::path yaml = fs::path(file).replace_extension(".yaml");
  if (!file.empty() && fs::is_regular_file(yaml)) {
    id["yaml"] = core::fingerprint_file(yaml.string());
  }
  return id;
}

json read_elements_summary(const std::string& dir) {
  const std::string path = (fs::path(dir) / "elements.json").string();
  IIS_CHECK_HINT(
      elements::elements_complete(dir),
      "--elements " << dir << " is not a complete `iis elements` folder",
      "cut the elements with `iis elements --data TRAIN --out " << dir << "` (or finish it)");
  return json::parse(core::read_text(path));
}

// The elements must come from images of --data's classes: their labels.npy indexes them.
void check_element_classes(const json& summary, const std::string& dir,
                           const std::vector<std::string>& classes) {
  const auto recorded = summary.value("classes", std::vector<std::string>{});
  IIS_CHECK_HINT(recorded == classes,
                 "--elements " << dir << " was cut from images of other classes ("
                               << recorded.size() << " classes, --data has " << classes.size()
                               << ")",
                 "cut the elements from the training split of the same dataset");
}

ImageSplit load_elements(const FinetuneOptions& o, const image::Preprocess& prep,
                         const std::vector<std::string>& classes, torch::Tensor& labels) {
  const json summary = read_elements_summary(o.elements);
  check_element_classes(summary, o.elements, classes);
  ImageSplit elements = load_image_split(o.elements, prep, 0, "--elements");
  labels = io::load_labels((fs::path(o.elements) / "labels.npy").string(), "element labels");
  IIS_CHECK_HINT(elements.unreadable == 0 && labels.size(0) == elements.size(),
                 "--elements " << o.elements << ": " << elements.size() << " readable images but "
                               << labels.size(0) << " labels",
                 "cut the elements again with `iis elements`");
  return elements;
}

}  // namespace

json run_identity(const FinetuneOptions& o) {
  std::string elements_fingerprint;
  const fs::path summary = fs::path(o.elements) / "elements.json";
  if (fs::is_regular_file(summary)) {
    elements_fingerprint =
        json::parse(core::read_text(summary.string())).value("fingerprint", std::string());
  }
  return json{{"backbone", backbone_identity(o.backbone)},
              {"data", file_identity(o.data)},
              {"val_data", file_identity(o.val_data)},
              {"elements",
               {{"path", fs::absolute(o.elements).lexically_normal().string()},
                {"fingerprint", elements_fingerprint}}},
              {"concept_type", o.concept_type},
              {"num_concepts", o.num_concepts},
              {"ratio", o.ratio},
              {"lambda", o.lambda},
              {"lr", o.lr},
              {"head_lr", o.head_lr},
              {"batch_size", o.batch_size},
              {"seed", o.seed},
              {"concept_refresh", o.concept_refresh},
              {"concept_grad", o.concept_grad},
              {"head_init", o.heads.empty() ? json(o.head_init) : json("heads")},
              {"head_epochs", o.head_epochs},
              {"heads", o.heads.empty() ? json(nullptr) : file_identity(o.heads)},
              {"train_limit", o.train_limit},
              {"val_limit", o.val_limit}};
}

Inputs load_inputs(const FinetuneOptions& o, const std::string& preprocess_yaml) {
  const image::Preprocess prep = embed::resolve_preprocess({}, preprocess_yaml, o.backbone);
  Inputs in;
  in.train = load_image_split(o.data, prep, o.train_limit, "--data");
  in.val = load_image_split(o.val_data, prep, o.val_limit, "--val-data");
  IIS_CHECK_HINT(in.val.class_names == in.train.class_names,
                 "--val-data " << o.val_data << " has other classes than --data " << o.data,
                 "give the test split of the same dataset");
  in.num_classes = static_cast<int64_t>(in.train.class_names.size());
  torch::Tensor labels;
  ImageSplit elements = load_elements(o, prep, in.train.class_names, labels);
  in.concepts = std::make_unique<ConceptMaker>(std::move(elements), labels, o.concept_type,
                                               o.num_concepts, o.seed);
  in.identity = run_identity(o);
  return in;
}

}  // namespace iis::finetune::detail
