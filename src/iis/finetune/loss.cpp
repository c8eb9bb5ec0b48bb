// The heads of `iis finetune` and the combined loss, as plain tensor operations under autograd.
#include "iis/finetune/loss.hpp"

#include "iis/core/random.hpp"
#include "iis/heads/train.hpp"

namespace iis::finetune {

FinetuneHeads fresh_heads(int64_t num_classes, int64_t width, int64_t num_concepts, uint64_t seed,
                          torch::Device device) {
  FinetuneHeads h;
  h.standard_weight = core::SeededRandom(seed, "finetune standard head")
                          .truncated_normal({num_classes, width}, /*std=*/0.02);
  h.standard_bias = torch::zeros({num_classes});
  h.gamma = torch::ones({num_concepts});
  h.beta = torch::zeros({num_concepts});
  h.weight = core::SeededRandom(seed, "finetune interpretable head")
                 .truncated_normal({num_classes, num_concepts}, /*std=*/0.02);
  h.bias = torch::zeros({num_classes});
  return trainable_copy(h, device);
}

FinetuneHeads trainable_copy(const FinetuneHeads& heads, torch::Device device) {
  auto copy = [&](const torch::Tensor& t) {
    return t.detach().to(device).clone().requires_grad_(true);
  };
  return {copy(heads.standard_weight), copy(heads.standard_bias),
          copy(heads.gamma),           copy(heads.beta),
          copy(heads.weight),          copy(heads.bias)};
}

torch::Tensor standard_logits(const torch::Tensor& z, const FinetuneHeads& heads) {
  return torch::linear(z, heads.standard_weight, heads.standard_bias);
}

torch::Tensor interpretable_logits(const torch::Tensor& z, const torch::Tensor& concepts,
                                   const FinetuneHeads& heads, int64_t position) {
  const torch::Tensor a = z.matmul(concepts.t());
  const torch::Tensor normalized =
      torch::layer_norm(a, {a.size(1)}, /*weight=*/{}, /*bias=*/{}, heads::kLayerNormEps);
  const torch::Tensor y = normalized * heads.gamma + heads.beta;
  const torch::Tensor magnitude = y.detach().abs();
  // The threshold carries no gradient: the mask is hard, the kept entries pass theirs on.
  const torch::Tensor t =
      std::get<0>(magnitude.kthvalue(position + 1, /*dim=*/1, /*keepdim=*/true));
  const torch::Tensor kept = y * magnitude.gt(t).to(y.scalar_type());
  return torch::linear(kept, heads.weight, heads.bias);
}

StepLoss combined_loss(const torch::Tensor& z, const torch::Tensor& concepts,
                       const FinetuneHeads& heads, const torch::Tensor& labels, int64_t position,
                       double lambda) {
  StepLoss loss;
  loss.standard = torch::cross_entropy_loss(standard_logits(z, heads), labels);
  if (lambda == 0) {
    // The control: the same step without the term, so its weights are plain cross-entropy
    // fine-tuning's bit for bit; the interpretable loss is still measured for the log.
    torch::NoGradGuard no_grad;
    loss.interpretable = torch::cross_entropy_loss(
        interpretable_logits(z.detach(), concepts.detach(), heads, position), labels);
    loss.total = loss.standard;
    return loss;
  }
  loss.interpretable =
      torch::cross_entropy_loss(interpretable_logits(z, concepts, heads, position), labels);
  loss.total = loss.standard + lambda * loss.interpretable;
  return loss;
}

}  // namespace iis::finetune
