// `iis kmeans`: k-means of the rows of an .npy file (what `--concept-type cluster` runs).
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "iis/concepts/kmeans.hpp"

namespace iis::tool {

void add_kmeans_command(CLI::App& root, Commands& commands) {
  auto* app = root.add_subcommand(
      "kmeans",
      "k-means (greedy k-means++, Lloyd) of the rows of an .npy file; prints a JSON summary");
  auto options = std::make_shared<concepts::KMeansCommandOptions>();
  app->add_option("--elements", options->elements, "M×D float .npy: one row per element")
      ->required();
  app->add_option("--out", options->out, "K×D float32 .npy of the centres")->required();
  app->add_option("--labels", options->labels_out, "Optional M int64 .npy: each row's cluster");
  app->add_option("--k", options->kmeans.k, "Number of clusters K (1 <= K <= rows)")->required();
  app->add_option("--seed", options->kmeans.seed, "Seed of the subsample and k-means++ draws")
      ->capture_default_str();
  app->add_option("--kmeans-max-elements", options->kmeans.max_elements,
                  "Cluster at most this many rows, a seeded subsample (0 = all)")
      ->capture_default_str();
  app->add_option("--kmeans-tol", options->kmeans.tol,
                  "Stop when the squared centre shift is <= tol x mean feature variance")
      ->capture_default_str();
  app->add_option("--kmeans-max-iter", options->kmeans.max_iter, "At most this many iterations")
      ->capture_default_str();
  app->add_flag("--normalise", options->normalise,
                "Save unit-length centres (the cluster concepts of `iis fit`)");
  commands.push_back({app, [options] {
                        const concepts::KMeansResult result = concepts::run_kmeans(*options);
                        nlohmann::json summary = {{"k", result.centres.size(0)},
                                                  {"rows", result.labels.size(0)},
                                                  {"dim", result.centres.size(1)},
                                                  {"clustered_rows", result.sample.size(0)},
                                                  {"inertia", result.inertia},
                                                  {"iterations", result.iterations},
                                                  {"converged", result.converged},
                                                  {"seconds", result.seconds},
                                                  {"out", options->out}};
                        std::cout << summary.dump() << "\n";
                      }});
}

}  // namespace iis::tool
