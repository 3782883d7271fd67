"""A small convolutional digit classifier: the yardstick for decoded samples (not part of the VAE).

    python -m vae train-classifier --dataset mnist      # writes vae/bundled/classifier-mnist.safetensors

It gives decoded digits a label and a confidence, and its penultimate layer's 128 features give
the Fréchet distance between decoded samples and real test images (FID with a domain classifier,
as MNIST papers do; vae/analysis/quality.py). Bundled as float16 safetensors, about 0.4 MB.

    classifier = load_classifier("mnist")
    probs = classifier.probabilities(x)     # x (B, 1, 28, 28) in [0, 1] -> (B, 10)
    feats = classifier.features(x)          # (B, 128)
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from vae.datasets import dataset_info
from vae.files import atomic_write_bytes

FEATURES = 128


def bundled_path(dataset: str) -> Path:
    return dataset_info(dataset).classifier_path


class Classifier(nn.Module):
    """conv 1->16 and 16->32 (3x3, ReLU, 2x2 max-pool each), 1568 -> 128 -> 10."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 16, 14, 14)
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 32, 7, 7)
            nn.Flatten(), nn.Linear(32 * 7 * 7, FEATURES), nn.ReLU(),  # (B, 128): the features
        )
        self.head = nn.Linear(FEATURES, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.reshape(-1, 1, 28, 28))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # (B, 10) logits

    @torch.no_grad()
    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        return self(x).softmax(-1)


def save_classifier(model: Classifier, path: str | Path, accuracy: float) -> None:
    from safetensors.torch import save

    tensors = {k: v.detach().cpu().half().contiguous() for k, v in model.state_dict().items()}
    atomic_write_bytes(path, save(tensors, metadata={"test_accuracy": f"{accuracy:.4f}"}))


def load_classifier(dataset: str = "mnist", path: str | Path | None = None) -> Classifier:
    """The bundled classifier of `dataset` (float16 on disk, float32 here), in eval mode."""
    from safetensors.torch import load_file

    model = Classifier()
    tensors = load_file(str(path or bundled_path(dataset)))
    model.load_state_dict({k: v.float() for k, v in tensors.items()})
    return model.eval()


def classifier_accuracy(path: str | Path) -> float:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return float((f.metadata() or {}).get("test_accuracy", "nan"))


@torch.no_grad()
def accuracy(model: Classifier, images: torch.Tensor, labels: torch.Tensor, batch: int = 2000) -> float:
    """images uint8 (N, 28, 28)."""
    model.eval()
    right = 0
    for i in range(0, len(images), batch):
        x = images[i:i + batch].unsqueeze(1).float() / 255
        right += int((model(x).argmax(-1) == labels[i:i + batch]).sum())
    return right / len(images)


def train_classifier(dataset: str = "mnist", epochs: int = 12, batch_size: int = 128, lr: float = 2e-3,
                     seed: int = 0, data_dir: str | None = None, log=print) -> tuple[Classifier, float]:
    """Adam on the training set with small random shifts (up to 2 pixels), cosine-decayed; returns
    the model and its test accuracy."""
    from vae.data import load_split

    torch.manual_seed(seed)
    train, test = load_split(dataset, "train", data_dir), load_split(dataset, "test", data_dir)
    model = Classifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * math.ceil(len(train.images) / batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        model.train()
        started = time.perf_counter()
        order = torch.randperm(len(train.images), generator=gen)
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            x = train.images[idx].unsqueeze(1).float() / 255
            shift = torch.randint(-2, 3, (2,), generator=gen).tolist()
            x = torch.roll(x, shifts=shift, dims=(2, 3))
            loss = F.cross_entropy(model(x), train.labels[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        log(f"epoch {epoch + 1}: test accuracy {accuracy(model, test.images, test.labels):.4f} "
            f"({time.perf_counter() - started:.0f} s)")
    return model, accuracy(model, test.images, test.labels)
