// The `iis` binary as users run it: the launcher's OpenMP wait policy, the global flags, and for
// every subcommand its help, its command-line errors and its input errors with the exit codes
// tools/iis/main.cpp documents.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "shard_support.hpp"
#include "test_support.hpp"

namespace iis {
namespace {

namespace fs = std::filesystem;

// The exit codes of tools/iis/main.cpp and tools/iis/launcher.cpp.
constexpr int kInputError = 1;
constexpr int kUsageError = 2;
constexpr int kCannotStart = 127;

struct ToolRun {
  int status = -1;
  std::string output;  // stdout and stderr together (run_tool), or stdout alone (run_split)
  std::string errors;  // stderr (run_split only)
};

ToolRun run_shell(const std::string& command) {
  const test::CommandRun run = test::run_command(command);
  return {run.status, run.output, ""};
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs `iis ARGS` through the shell with `env` prepended (e.g. "A=1 B=2").
ToolRun run_tool(const std::string& env, const std::string& args) {
  return run_shell(env + " '" + test::tool_path() + "' " + args + " 2>&1");
}

// Runs `iis ARGS` in the folder `cwd`, keeping stdout and stderr apart.
ToolRun run_split(const std::string& cwd, const std::string& args,
                  const std::string& tool = test::tool_path()) {
  test::TempDir streams;
  const std::string stderr_file = streams / "stderr";
  ToolRun run =
      run_shell("cd '" + cwd + "' && '" + tool + "' " + args + " 2>'" + stderr_file + "'");
  run.errors = read_file(stderr_file);
  return run;
}

// run_split with `env` (variables, or test::without_launcher()) before the tool.
ToolRun run_split_env(const std::string& cwd, const std::string& env, const std::string& args) {
  test::TempDir streams;
  const std::string stderr_file = streams / "stderr";
  ToolRun run = run_shell("cd '" + cwd + "' && " + env + " '" + test::tool_path() + "' " + args +
                          " 2>'" + stderr_file + "'");
  run.errors = read_file(stderr_file);
  return run;
}

// The lines of `text` that start with `prefix`.
std::vector<std::string> lines_starting(const std::string& text, const std::string& prefix) {
  std::vector<std::string> found;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) == 0) found.push_back(line);
  }
  return found;
}

// Every error reads the same: exactly one `error:` line and one `hint:` line on stderr, and
// nothing on stdout (scripts read stdout).
void expect_error_and_hint(const ToolRun& run, const std::string& in_error,
                           const std::string& in_hint) {
  EXPECT_EQ(run.output, "") << "stdout of a failed command";
  const auto errors = lines_starting(run.errors, "error: ");
  const auto hints = lines_starting(run.errors, "hint: ");
  ASSERT_EQ(errors.size(), 1u) << run.errors;
  ASSERT_EQ(hints.size(), 1u) << run.errors;
  EXPECT_NE(errors[0].find(in_error), std::string::npos) << run.errors;
  EXPECT_NE(hints[0].find(in_hint), std::string::npos) << run.errors;
}

// Whether the help text lists `flag` as a whole word ("--out" is not found in "--outer").
bool lists_flag(const std::string& help, const std::string& flag) {
  for (size_t at = help.find(flag); at != std::string::npos; at = help.find(flag, at + 1)) {
    const size_t end = at + flag.size();
    const bool word_start = at == 0 || help[at - 1] == ' ' || help[at - 1] == ',';
    const bool word_end = end == help.size() || help[end] == ' ' || help[end] == '\n';
    if (word_start && word_end) return true;
  }
  return false;
}

// The line of the help text that lists the flag or positional argument `name` (its first word,
// "-h,--help" naming both).
std::string help_line(const std::string& help, const std::string& name) {
  std::istringstream in(help);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string first;
    words >> first;
    if (lists_flag(first, name)) return line;
  }
  return "";
}

// The subcommand names `iis --help` lists.
std::set<std::string> listed_subcommands(const std::string& help) {
  std::set<std::string> names;
  const size_t section = help.find("\nSubcommands:\n");
  if (section == std::string::npos) return names;
  std::istringstream in(help.substr(section + 14));
  for (std::string line; std::getline(in, line) && line.rfind("  ", 0) == 0;) {
    std::istringstream words(line);
    std::string name;
    words >> name;
    names.insert(name);
  }
  return names;
}

std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> words;
  std::istringstream in(text);
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

std::string join_words(const std::vector<std::string>& words) {
  std::string text;
  for (const auto& w : words) text += (text.empty() ? "" : " ") + w;
  return text;
}

// One subcommand as the tests drive it. In `complete` and `taken`, `@` stands for the test's
// empty folder.
struct Subcommand {
  std::string name;
  // Every flag `iis NAME --help` must list.
  std::vector<std::string> flags;
  // The required flags, or the required positional argument, as error messages name them; the
  // first is left out by MissingRequiredIsACommandLineError.
  std::vector<std::string> required;
  // Every required flag and argument, positional arguments first, naming inputs that do not
  // exist: a command line the parser accepts and the command refuses with an input error.
  std::string complete;
  // What the input error says.
  std::string input_error;
  // A file made before the input error is provoked (the demo's --out taken by a file).
  std::string taken;
};

// GoogleTest names a failing case by its subcommand, not by its bytes.
void PrintTo(const Subcommand& c, std::ostream* os) { *os << "iis " << c.name; }

std::string in_folder(const std::string& text, const std::string& folder) {
  std::string out;
  for (char c : text) out += c == '@' ? folder : std::string(1, c);
  return out;
}

const std::vector<std::string> kPreprocessFlags = {
    "--preset", "--preprocess-yaml", "--resize-size", "--crop-size", "--interpolation", "--mean",
    "--std",    "--no-normalize",    "--channels"};

std::vector<std::string> with_preprocess_flags(std::vector<std::string> flags) {
  flags.insert(flags.end(), kPreprocessFlags.begin(), kPreprocessFlags.end());
  return flags;
}

// Every subcommand of the tool; EverySubcommandIsCovered fails when `iis --help` lists another.
const std::vector<Subcommand>& subcommands() {
  static const std::vector<Subcommand> all = {
      {"version", {"--help"}, {}, "", "", ""},
      {"elements",
       {"--data", "--kind", "--out", "--images-per-class", "--image-select", "--seed", "--scales",
        "--compactness", "--sigma", "--masks-per-scale", "--min-area", "--jaccard", "--fill",
        "--grid", "--patch-size", "--force", "--shard"},
       {"--data", "--kind", "--out"},
       "--data @/missing --kind segments --out @/elements",
       "dataset @/missing does not exist",
       ""},
      {"superpixels",
       {"--n-segments", "--compactness", "--sigma", "--out"},
       {"--n-segments", "--out", "image"},
       "@/missing.png --n-segments 10 --out @/labels.npy",
       "@/missing.png: cannot open the image file",
       ""},
      {"pretrain",
       {"--arch", "--data", "--val-data", "--out", "--epochs", "--seed", "--batch-size", "--lr",
        "--train-limit", "--device", "--force"},
       {"--arch", "--data", "--out"},
       "--arch mlp --data @/missing --out @/model",
       "@/missing does not exist",
       ""},
      {"finetune",
       {"--backbone",     "--data",         "--val-data",     "--elements",
        "--out",          "--concept-type", "--num-concepts", "--ratio",
        "--lambda",       "--epochs",       "--lr",           "--head-lr",
        "--batch-size",   "--seed",         "--device",       "--concept-refresh",
        "--concept-grad", "--head-init",    "--head-epochs",  "--heads",
        "--train-limit",  "--val-limit",    "--force"},
       {"--backbone", "--data", "--val-data", "--elements", "--out"},
       "--backbone native:mlp --data @/missing --val-data @/missing --elements @/missing "
       "--out @/finetuned",
       "--data @/missing does not exist",
       ""},
      {"report",
       {"--out", "--no-figures", "--gnuplot"},
       {"run_dir"},
       "@/missing",
       "run folder @/missing does not exist",
       ""},
      {"run",
       {"--out", "--force", "--no-figures", "--stage", "--shard"},
       {"config"},
       "@/missing.yaml",
       "cannot read @/missing.yaml",
       ""},
      // The demo needs no argument; its input error is a run folder that is a file.
      {"demo", {"--out", "--force"}, {}, "--out @/taken", "", "taken"},
      {"embed",
       with_preprocess_flags({"--backbone", "--data", "--out", "--batch-size", "--device", "--half",
                              "--bf16", "--half-storage", "--shard", "--workers", "--limit"}),
       {"--backbone", "--data", "--out"},
       "--backbone native:mlp --data @/missing --out @/features",
       "dataset @/missing does not exist",
       ""},
      {"embed-text",
       {"--clip", "--concepts", "--out", "--batch-size", "--device", "--truncate", "--vocab"},
       {"--clip", "--concepts", "--out"},
       "--clip @/missing.pt --concepts cifar10 --out @/text",
       "CLIP archive @/missing.pt does not exist",
       ""},
      {"merge",
       {"--out", "--wait", "--timeout"},
       {"--out"},
       "@/missing --out @/merged",
       "shard @/missing: @/missing.embed.json is missing",
       ""},
      {"preprocess",
       with_preprocess_flags({"--out", "--backbone", "--uint8"}),
       {"--out", "images"},
       "@/missing.png --out @/input.npy",
       "@/missing.png: cannot open the image file",
       ""},
      {"kmeans",
       {"--elements", "--out", "--labels", "--k", "--seed", "--kmeans-max-elements", "--kmeans-tol",
        "--kmeans-max-iter", "--normalise"},
       {"--elements", "--out", "--k"},
       "--elements @/missing.npy --out @/centres.npy --k 2",
       "cannot open @/missing.npy",
       ""},
      {"fit",
       {"--train-features",
        "--train-labels",
        "--val-features",
        "--val-labels",
        "--concepts",
        "--concept-labels",
        "--out",
        "--num-concepts",
        "--concept-type",
        "--kmeans-max-elements",
        "--kmeans-tol",
        "--kmeans-max-iter",
        "--temperature",
        "--concept-select",
        "--ratios",
        "--lrs",
        "--epochs",
        "--batch-size",
        "--seeds",
        "--device",
        "--threshold",
        "--select-on",
        "--holdout-fraction",
        "--num-classes",
        "--force"},
       {"--train-features", "--train-labels", "--val-features", "--val-labels", "--out"},
       "--train-features @/missing.npy --train-labels @/labels.npy --val-features @/val.npy "
       "--val-labels @/val_labels.npy --concepts @/concepts.npy --out @/fit",
       "cannot open @/missing.npy",
       ""},
      {"score",
       {"--json", "--csv"},
       {"results"},
       "@/missing.json",
       "cannot read @/missing.json",
       ""},
      {"predict",
       with_preprocess_flags({"--fit", "--ratio", "--seed", "--features", "--backbone", "--data",
                              "--labels", "--no-fingerprint-check", "--out"}),
       {"--fit", "--out"},
       "--fit @/missing --features @/x.npy --out @/preds.csv",
       "--fit @/missing holds no results.json",
       ""},
      {"explain",
       with_preprocess_flags({"--fit", "--ratio", "--seed", "--features", "--backbone", "--data",
                              "--labels", "--indices", "--shown", "--no-fingerprint-check",
                              "--out"}),
       {"--fit", "--out"},
       "--fit @/missing --features @/x.npy --indices 0 --out @/explained",
       "--fit @/missing holds no results.json",
       ""},
      {"tokenize",
       {"--file", "--context-length", "--truncate", "--vocab"},
       {"--file"},
       "--file @/missing.txt",
       "cannot read @/missing.txt",
       ""},
  };
  return all;
}

// The files and folders under `folder`.
std::vector<std::string> contents(const std::string& folder) {
  std::vector<std::string> names;
  for (const auto& entry : fs::recursive_directory_iterator(folder))
    names.push_back(entry.path().string());
  return names;
}

class SubcommandTest : public ::testing::TestWithParam<Subcommand> {};
class RequiredTest : public SubcommandTest {};  // subcommands that require something
class InputTest : public SubcommandTest {};     // subcommands that read an input

// The subcommands for which `keep` is true.
template <typename Keep>
std::vector<Subcommand> subcommands_where(Keep keep) {
  std::vector<Subcommand> kept;
  for (const auto& c : subcommands()) {
    if (keep(c)) kept.push_back(c);
  }
  return kept;
}

// GoogleTest's names are letters, digits and '_': embed-text is embed_text.
std::string param_name(const ::testing::TestParamInfo<Subcommand>& info) {
  std::string name = info.param.name;
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

TEST_P(SubcommandTest, HelpListsItsFlags) {
  const Subcommand& c = GetParam();
  test::TempDir dir;
  const ToolRun help = run_split(dir.str(), c.name + " --help");
  EXPECT_EQ(help.status, 0) << help.errors;
  EXPECT_EQ(help.errors, "");
  EXPECT_NE(help.output.find("Usage: "), std::string::npos) << help.output;
  EXPECT_NE(help.output.find(" " + c.name + " [OPTIONS]"), std::string::npos) << help.output;
  for (const auto& flag : c.flags) EXPECT_TRUE(lists_flag(help.output, flag)) << flag;
  for (const auto& name : c.required) {
    EXPECT_NE(help_line(help.output, name).find("REQUIRED"), std::string::npos)
        << name << " is not marked required in\n"
        << help.output;
  }
}

TEST_P(SubcommandTest, UnknownFlagIsACommandLineError) {
  const Subcommand& c = GetParam();
  test::TempDir dir;
  const std::string args = in_folder(c.complete, dir.str());
  const ToolRun run = run_split(dir.str(), c.name + " " + args + " --no-such-flag");
  EXPECT_EQ(run.status, kUsageError) << run.errors;
  expect_error_and_hint(run, "--no-such-flag", "iis " + c.name + " --help");
  EXPECT_EQ(contents(dir.str()), std::vector<std::string>{}) << "written on a usage error";
}

TEST_P(RequiredTest, MissingRequiredIsACommandLineError) {
  const Subcommand& c = GetParam();
  test::TempDir dir;
  std::vector<std::string> words = split_words(in_folder(c.complete, dir.str()));
  const std::string& left_out = c.required.front();
  if (left_out.rfind("--", 0) == 0) {
    const auto flag = std::find(words.begin(), words.end(), left_out);
    ASSERT_NE(flag, words.end()) << left_out << " is not in the complete command line";
    words.erase(flag, flag + 2);  // the flag and its value
  } else {
    words.erase(words.begin());  // the positional argument
  }
  const ToolRun run = run_split(dir.str(), c.name + " " + join_words(words));
  EXPECT_EQ(run.status, kUsageError) << run.errors;
  expect_error_and_hint(run, left_out + " is required", "iis " + c.name + " --help");
  EXPECT_EQ(contents(dir.str()), std::vector<std::string>{}) << "written on a usage error";
}

TEST_P(InputTest, MissingInputIsAnInputError) {
  const Subcommand& c = GetParam();
  test::TempDir dir;
  if (!c.taken.empty()) std::ofstream(dir / c.taken) << "a file\n";
  const ToolRun run = run_split(dir.str(), c.name + " " + in_folder(c.complete, dir.str()));
  EXPECT_EQ(run.status, kInputError) << run.errors;
  expect_error_and_hint(run, in_folder(c.input_error, dir.str()), "");
}

INSTANTIATE_TEST_SUITE_P(Tool, SubcommandTest, ::testing::ValuesIn(subcommands()), param_name);
INSTANTIATE_TEST_SUITE_P(Tool, RequiredTest,
                         ::testing::ValuesIn(subcommands_where([](const Subcommand& c) {
                           return !c.required.empty();
                         })),
                         param_name);
INSTANTIATE_TEST_SUITE_P(Tool, InputTest,
                         ::testing::ValuesIn(subcommands_where([](const Subcommand& c) {
                           return !c.complete.empty();
                         })),
                         param_name);

TEST(Tool, EverySubcommandIsCovered) {
  test::TempDir dir;
  const ToolRun help = run_split(dir.str(), "--help");
  EXPECT_EQ(help.status, 0) << help.errors;
  std::set<std::string> covered;
  for (const auto& c : subcommands()) covered.insert(c.name);
  const std::set<std::string> listed = listed_subcommands(help.output);
  EXPECT_FALSE(listed.empty()) << help.output;
  EXPECT_EQ(listed, covered) << "add every subcommand of `iis --help` to subcommands()";
  for (const char* flag :
       {"--version", "--max-image-pixels", "--threads", "--quiet", "--plain-progress"})
    EXPECT_TRUE(lists_flag(help.output, flag)) << flag;
}

TEST(Tool, GlobalCommandLineErrors) {
  test::TempDir dir;
  const ToolRun unknown = run_split(dir.str(), "--no-such-flag version");
  EXPECT_EQ(unknown.status, kUsageError) << unknown.errors;
  expect_error_and_hint(unknown, "--no-such-flag", "`iis --help`");
  const ToolRun none = run_split(dir.str(), "");
  EXPECT_EQ(none.status, kUsageError) << none.errors;
  expect_error_and_hint(none, "A subcommand is required", "`iis --help`");
  const ToolRun unknown_command = run_split(dir.str(), "no-such-command");
  EXPECT_EQ(unknown_command.status, kUsageError) << unknown_command.errors;
  expect_error_and_hint(unknown_command, "no-such-command", "`iis --help`");
  const ToolRun bad_value = run_split(dir.str(), "--threads -1 version");
  EXPECT_EQ(bad_value.status, kUsageError) << bad_value.errors;
  expect_error_and_hint(bad_value, "--threads: Value -1 not in range 0 to", "`iis --help`");
}

TEST(Tool, VersionFlagIsTheVersionCommand) {
  test::TempDir dir;
  const ToolRun flag = run_split(dir.str(), "--version");
  const ToolRun command = run_split(dir.str(), "version");
  EXPECT_EQ(flag.status, 0) << flag.errors;
  EXPECT_EQ(command.status, 0) << command.errors;
  EXPECT_EQ(flag.errors, "");
  EXPECT_EQ(flag.output, command.output);
  EXPECT_EQ(flag.output.rfind("iis ", 0), 0u) << flag.output;
  for (const char* line : {"\nLibTorch ", "\nOpenCV ", "\nCUDA available: "})
    EXPECT_NE(flag.output.find(line), std::string::npos) << line << " in\n" << flag.output;
}

// The launcher without the tool beside it: exit 127, as a shell does for a missing command.
TEST(Tool, LauncherWithoutTheToolCannotStart) {
  test::TempDir dir;
  const std::string launcher = dir / "iis";
  fs::copy_file(test::tool_path(), launcher);
  const ToolRun run = run_split(dir.str(), "version", launcher);
  EXPECT_EQ(run.status, kCannotStart) << run.errors;
  expect_error_and_hint(run, "cannot start", "reinstall iis");
}

// libgomp prints its settings at load time under OMP_DISPLAY_ENV=verbose; a passive wait
// policy shows as a spin count of 0.
TEST(Tool, LauncherSetsThePassiveWaitPolicyBeforeLibTorchLoads) {
  const ToolRun passive = run_tool("env -u OMP_WAIT_POLICY OMP_DISPLAY_ENV=verbose", "version");
  EXPECT_EQ(passive.status, 0) << passive.output;
  EXPECT_NE(passive.output.find("GOMP_SPINCOUNT = '0'"), std::string::npos) << passive.output;
  // A policy the user set is kept.
  const ToolRun active = run_tool("OMP_WAIT_POLICY=ACTIVE OMP_DISPLAY_ENV=verbose", "version");
  EXPECT_EQ(active.status, 0) << active.output;
  EXPECT_NE(active.output.find("OMP_WAIT_POLICY = 'ACTIVE'"), std::string::npos) << active.output;
  EXPECT_EQ(active.output.find("GOMP_SPINCOUNT = '0'"), std::string::npos) << active.output;
}

TEST(Tool, MaxImagePixelsReachesTheDecoder) {
  test::TempDir dir;
  const std::string image = dir / "x.png";
  ASSERT_TRUE(cv::imwrite(image, cv::Mat(4, 4, CV_8UC3, cv::Scalar(10, 200, 30))));  // 16 px
  const std::string args =
      "superpixels '" + image + "' --n-segments 2 --out '" + dir / "l.npy" + "'";
  const ToolRun refused = run_tool("", "--max-image-pixels 15 " + args);
  EXPECT_EQ(refused.status, kInputError) << refused.output;
  EXPECT_NE(refused.output.find("image too large (4x4 = 16 pixels, above the cap of 15)"),
            std::string::npos)
      << refused.output;
  const ToolRun accepted = run_tool("", "--max-image-pixels 16 " + args);
  EXPECT_EQ(accepted.status, 0) << accepted.output;
}

// The reference tokenizer's ids of the texts named (tests/text/data/tokens.jsonl).
std::map<std::string, std::vector<int>> reference_ids(const std::set<std::string>& texts) {
  std::map<std::string, std::vector<int>> ids;
  std::istringstream in(read_file(test::source_dir() + "/tests/text/data/tokens.jsonl"));
  for (std::string line; std::getline(in, line);) {
    const auto row = nlohmann::json::parse(line);
    if (texts.count(row.at("text"))) ids[row.at("text")] = row.at("ids").get<std::vector<int>>();
  }
  return ids;
}

// `iis tokenize`: one JSON line per non-blank line, text first, the reference's ids.
TEST(Tool, TokenizePrintsTheReferenceIdsAsJsonLines) {
  test::TempDir dir;
  std::ofstream(dir / "concepts.txt", std::ios::binary) << "A collar\r\n\r\n4x4\rAfrica";
  const auto ids = reference_ids({"A collar", "4x4", "Africa"});
  ASSERT_EQ(ids.size(), 3u);
  const ToolRun run = run_split(dir.str(), "tokenize --file concepts.txt");
  EXPECT_EQ(run.status, 0) << run.errors;
  std::istringstream out(run.output);
  std::vector<std::string> lines;
  for (std::string line; std::getline(out, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 3u) << run.output;
  EXPECT_EQ(lines[0].rfind("{\"text\":\"A collar\",\"ids\":[", 0), 0u) << lines[0];
  const std::vector<std::string> texts = {"A collar", "4x4", "Africa"};
  for (size_t i = 0; i < 3; ++i) {
    const auto row = nlohmann::json::parse(lines[i]);
    EXPECT_EQ(row.at("text"), texts[i]);
    EXPECT_EQ(row.at("ids").get<std::vector<int>>(), ids.at(texts[i])) << texts[i];
  }
}

TEST(Tool, TokenizeRefusesATextTooLongUnlessTruncating) {
  test::TempDir dir;
  std::ofstream(dir / "long.txt") << "A collar\nthe end of a very long text\n";
  const ToolRun refused = run_split(dir.str(), "tokenize --file long.txt --context-length 5");
  EXPECT_EQ(refused.status, kInputError) << refused.errors;
  expect_error_and_hint(refused,
                        "long.txt, line 2: text \"the end of a very long text\" is too long for "
                        "context length 5",
                        "--truncate");
  const ToolRun cut =
      run_split(dir.str(), "tokenize --file long.txt --context-length 5 --truncate");
  EXPECT_EQ(cut.status, 0) << cut.errors;
  std::istringstream out(cut.output);
  std::string first, second;
  std::getline(out, first);
  std::getline(out, second);
  EXPECT_EQ(nlohmann::json::parse(second).at("ids").size(), 5u) << second;
  EXPECT_EQ(nlohmann::json::parse(second).at("ids").back(), 49407) << second;
  const ToolRun too_short = run_split(dir.str(), "tokenize --file long.txt --context-length 1");
  EXPECT_EQ(too_short.status, kUsageError) << too_short.errors;
}

// Shards: --shard auto reads the launcher's variables (set here by the shell, as mpirun, srun
// or torchrun would), `iis merge --wait` finds the shards; and their errors.
TEST(Tool, ShardAutoUnderASimulatedLauncherThenMergeWait) {
  test::TempDir dir;
  test::make_grey_images(dir / "data", 12);
  const std::string embed = "embed --backbone native:mlp --data '" + dir / "data" +
                            "' --batch-size 4 --out '" + dir / "feats" + "' --shard auto";
  for (const std::string rank : {"1", "0"}) {
    const ToolRun run = run_tool(test::without_launcher() + " RANK=" + rank + " WORLD_SIZE=2",
                                 "--plain-progress " + embed);
    ASSERT_EQ(run.status, 0) << run.output;
    EXPECT_NE(
        run.output.find("[iis] --shard auto: shard " + rank + "/2 into " + dir / "feats" + ".part" +
                        rank + "of2, from torchrun (RANK=" + rank + ", WORLD_SIZE=2)"),
        std::string::npos)
        << run.output;
  }
  const ToolRun merge = run_split(dir.str(), "--quiet merge --out feats --wait --timeout 10");
  EXPECT_EQ(merge.status, 0) << merge.errors;
  EXPECT_EQ(merge.output,
            "merged 2 shards: 12 rows of 64 features, 0 skipped images, into feats.*\n");
  EXPECT_TRUE(fs::is_regular_file(dir / "feats.features.npy"));

  const std::string elements = "--quiet elements --data '" + dir / "data" +
                               "' --kind patches --grid 2 --patch-size 8 --out '" + dir / "els" +
                               "' --shard auto";
  for (const std::string task : {"0", "1", "2"}) {
    const ToolRun run =
        run_tool(test::without_launcher() + " SLURM_PROCID=" + task + " SLURM_NTASKS=3", elements);
    ASSERT_EQ(run.status, 0) << run.output;
    EXPECT_TRUE(fs::is_directory(dir / ("els.part" + task + "of3"))) << run.output;
  }
  const ToolRun merged = run_split(dir.str(), "--quiet merge --out els --wait");
  EXPECT_EQ(merged.status, 0) << merged.errors;
  EXPECT_EQ(merged.output, "merged 3 shards: 48 elements from 12 of 12 images, into els\n");
}

TEST(Tool, ShardAndMergeErrors) {
  test::TempDir dir;
  // No launcher: an input error listing what was read.
  const ToolRun none = run_split_env(
      dir.str(), test::without_launcher(),
      "--quiet embed --backbone native:mlp --data '" + dir / "data" + "' --out feats --shard auto");
  EXPECT_EQ(none.status, kInputError) << none.errors;
  expect_error_and_hint(none, "--shard auto: no launcher's variables are set",
                        "mpirun, srun, torchrun");
  for (const char* name :
       {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "WORLD_SIZE", "SLURM_NTASKS", "SLURM_ARRAY_TASK_ID"}) {
    EXPECT_NE(none.errors.find(name), std::string::npos) << name << " in " << none.errors;
  }
  const ToolRun bad = run_tool(test::without_launcher() + " PMI_RANK=3 PMI_SIZE=3",
                               "elements --data x --kind patches --out y --shard auto");
  EXPECT_EQ(bad.status, kInputError) << bad.output;
  EXPECT_NE(bad.output.find("rank 3 of 3 from PMI_RANK=3, PMI_SIZE=3"), std::string::npos)
      << bad.output;
  // Neither shards nor --wait, both, or --timeout without --wait: command-line errors.
  for (const std::string args :
       {"merge --out m", "merge --out m --wait a", "merge --out m --timeout 3 a"}) {
    const ToolRun run = run_split(dir.str(), args);
    EXPECT_EQ(run.status, kUsageError) << args << ": " << run.errors;
    expect_error_and_hint(run, "", "iis merge --help");
  }
  EXPECT_NE(run_split(dir.str(), "merge --out m").errors.find("shards (or --wait) is required"),
            std::string::npos);
  // --wait gives up at the timeout, naming what it waited for.
  std::ofstream(dir / "m.part1of2.embed.json") << "{}";
  const ToolRun timeout = run_split(dir.str(), "merge --out m --wait --timeout 0.5");
  EXPECT_EQ(timeout.status, kInputError) << timeout.errors;
  expect_error_and_hint(timeout,
                        "--timeout 0.5 s passed waiting for the shards of m: 1 of 2 shards to "
                        "come: m.part0of2 (missing)",
                        "--timeout");
  // cuda:auto is a GPU: on a machine without one, the error cuda gives.
  if (run_tool("", "version").output.find("CUDA available: no") != std::string::npos) {
    const ToolRun cuda =
        run_tool("LOCAL_RANK=0", "embed --backbone native:mlp --data '" + dir / "data" +
                                     "' --out '" + dir / "f" + "' --device cuda:auto");
    EXPECT_EQ(cuda.status, kInputError) << cuda.output;
    EXPECT_NE(cuda.output.find("--device cuda:auto: CUDA is not available here"), std::string::npos)
        << cuda.output;
  }
}

// `iis run --shard` without a stage that splits: an input error with a hint, before the config
// is read.
TEST(Tool, RunShardNeedsAStageThatSplits) {
  test::TempDir dir;
  const ToolRun none = run_split_env(dir.str(), test::without_launcher(), "run c.yaml --shard 0/2");
  EXPECT_EQ(none.status, kInputError) << none.errors;
  expect_error_and_hint(none, "--shard needs --stage elements or --stage embed",
                        "run the others without --shard");
  const ToolRun fit =
      run_split_env(dir.str(), test::without_launcher(), "run c.yaml --stage fit --shard auto");
  EXPECT_EQ(fit.status, kInputError) << fit.errors;
  expect_error_and_hint(fit, "--shard needs --stage elements or --stage embed, got --stage fit",
                        "");
  const ToolRun typo = run_split(dir.str(), "run c.yaml --stage embeds");
  EXPECT_EQ(typo.status, kInputError) << typo.errors;
  expect_error_and_hint(typo, "--stage must be pretrain, elements, embed, fit or report",
                        "--stage embed");
}

}  // namespace
}  // namespace iis
