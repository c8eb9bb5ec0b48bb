// The static HTML shared by `iis explain` and the concept atlas.
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <filesystem>

#include "iis/core/files.hpp"
#include "iis/data/dataset.hpp"
#include "iis/predict/detail/html.hpp"

namespace iis::predict::detail {

namespace fs = std::filesystem;

std::string html_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string keep_names(const std::string& text) {
  std::string out, word;
  auto flush = [&] {
    const bool name = word.find('-') != std::string::npos && word.find('/') == std::string::npos &&
                      word.size() <= 40;
    out += name ? "<span class=\"nb\">" + html_escape(word) + "</span>" : html_escape(word);
    word.clear();
  };
  for (char c : text) {
    if (c != ' ') {
      word += c;
      continue;
    }
    flush();
    out += ' ';
  }
  flush();
  return out;
}

// Narrow screens: figures wrap, tables scroll inside their box, and text outside tables may
// break anywhere rather than widen the page; cells never break (a class or backbone name split
// at its hyphens is hard to read); pixels of small images stay sharp.
std::string page_start(const std::string& title) {
  return "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>" +
         html_escape(title) +
         "</title>\n<style>\n"
         "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;margin:1em auto;"
         "max-width:1200px;padding:0 1em}\n"
         "h1,p,li,code{overflow-wrap:anywhere}\n"
         "h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.5em}\n"
         ".scroll{overflow-x:auto;max-width:100%}\n"
         "table{border-collapse:collapse}th,td{padding:.2em .5em;border-bottom:1px solid #ddd;"
         "text-align:right;vertical-align:top;white-space:nowrap}\n"
         "td.name,th.name{text-align:left}\n"
         ".num,.nb{white-space:nowrap}\n"
         ".elements{display:flex;flex-wrap:wrap;gap:.4em}\n"
         "figure{margin:0;width:84px;font-size:.7em;text-align:center}\n"
         "figure img{width:72px;height:72px;image-rendering:pixelated;border:1px solid #ccc}\n"
         ".missing{width:72px;height:72px;margin:auto;border:2px dashed #c00;color:#c00;"
         "display:flex;align-items:center;justify-content:center;font-size:.9em}\n"
         ".warnings{background:#fff3cd;border:1px solid #e0b000;padding:.5em 1em}\n"
         ".row{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}\n"
         ".item{border-top:2px solid #888;margin-top:1.5em;padding-top:.5em}\n"
         ".bar{display:inline-block;height:.7em;background:#4a7}.neg{background:#c55}\n"
         "</style></head><body>\n";
}

std::string warnings_box(const std::vector<std::string>& warnings) {
  if (warnings.empty()) return "";
  std::string h = "<div class=\"warnings\"><b>Warnings</b><ul>\n";
  for (const auto& w : warnings) h += "<li>" + html_escape(w) + "</li>\n";
  return h + "</ul></div>\n";
}

std::string figure(const std::string& href, const std::string& caption,
                   const std::string& missing) {
  std::string h = "<figure>";
  if (href.empty())
    h += "<div class=\"missing\">" + html_escape(missing) + "</div>";
  else
    h += "<img src=\"" + html_escape(href) + "\" alt=\"" + html_escape(caption) + "\">";
  return h + "<figcaption>" + html_escape(caption) + "</figcaption></figure>";
}

SourceImages::SourceImages() = default;
SourceImages::~SourceImages() = default;

bool SourceImages::write(const std::string& source, const std::string& dest) {
  try {
    cv::Mat rgb;
    const auto hash = source.rfind('#');
    if (hash != std::string::npos && fs::is_regular_file(source.substr(0, hash))) {
      auto& dataset = open_[source.substr(0, hash)];
      if (!dataset) dataset = data::open_dataset(source.substr(0, hash));
      rgb = dataset->image(std::stoll(source.substr(hash + 1)));
    } else if (fs::is_regular_file(source)) {
      core::make_dirs(fs::path(dest).parent_path().string());
      fs::copy_file(source, dest, fs::copy_options::overwrite_existing);
      return true;
    } else {
      return false;
    }
    cv::Mat bgr;
    cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
    core::make_dirs(fs::path(dest).parent_path().string());
    return cv::imwrite(dest, bgr);
  } catch (const std::exception&) {
    return false;
  }
}

std::vector<std::string> class_names(const FitHeads& h) {
  const auto it = h.results.inputs.find("train_features");
  const std::string suffix = ".features.npy";
  if (it == h.results.inputs.end() || it->second.path.size() <= suffix.size()) return {};
  const std::string& p = it->second.path;
  if (p.compare(p.size() - suffix.size(), suffix.size(), suffix) != 0) return {};
  const std::string embed_json = p.substr(0, p.size() - suffix.size()) + ".embed.json";
  if (!fs::is_regular_file(embed_json)) return {};
  const auto j = nlohmann::json::parse(core::read_text(embed_json), nullptr, false);
  if (!j.is_object() || !j.contains("classes") || !j["classes"].is_array()) return {};
  return j["classes"].get<std::vector<std::string>>();
}

std::string class_label(const std::vector<std::string>& names, int64_t c) {
  if (c >= 0 && c < static_cast<int64_t>(names.size())) return names[static_cast<size_t>(c)];
  return "class " + std::to_string(c);
}

}  // namespace iis::predict::detail
