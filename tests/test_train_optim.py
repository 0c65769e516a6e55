"""Learning-rate schedules and the moving average of the weights."""

import math

import pytest
import torch

from mlpot.model import ModelConfig, build_model
from mlpot.train import TrainConfig
from mlpot.train.ema import WeightAverage
from mlpot.train.optim import make_optimizer, make_scheduler, step_scheduler


def tiny_model():
    return build_model(ModelConfig(name="invariant", species=[1, 8], num_features=4))


def learning_rates(config, monitored, epochs):
    optimizer = make_optimizer(tiny_model(), config)
    scheduler = make_scheduler(optimizer, config)
    rates = []
    for epoch in range(epochs):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()  # no gradients: the weights stay, the schedule counts the step
        step_scheduler(scheduler, monitored(epoch))
    return rates


def test_cosine_decays_from_lr_to_min_lr_and_stays_there():
    config = TrainConfig(scheduler="cosine", lr=1e-2, min_lr=1e-4, max_epochs=4)
    rates = learning_rates(config, lambda epoch: 1.0, epochs=6)
    halfway = 1e-4 + (1e-2 - 1e-4) * 0.5 * (1 + math.cos(math.pi / 2))
    assert rates[0] == pytest.approx(1e-2)
    assert rates[2] == pytest.approx(halfway)
    assert rates[4:] == pytest.approx([1e-4, 1e-4])


def test_plateau_reduces_lr_after_patience_without_improvement():
    config = TrainConfig(
        lr=1e-2, scheduler="plateau", plateau_patience=2, plateau_factor=0.5
    )
    rates = learning_rates(config, lambda epoch: 1.0, epochs=6)
    assert rates == pytest.approx([1e-2, 1e-2, 1e-2, 1e-2, 5e-3, 5e-3])


def test_adamw_applies_weight_decay():
    optimizer = make_optimizer(
        tiny_model(), TrainConfig(optimizer="adamw", weight_decay=0.1)
    )
    assert isinstance(optimizer, torch.optim.AdamW)
    assert optimizer.param_groups[0]["weight_decay"] == 0.1


def test_average_follows_weights_with_warm_up():
    model = tiny_model()
    average = WeightAverage(model, decay=0.9)
    first = next(average.model.parameters())
    start = first.detach().clone()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(1.0)
    average.update(model)  # warm-up decay min(0.9, 1/10) = 0.1
    torch.testing.assert_close(first, start + 0.9)
    assert not first.requires_grad


def test_zero_decay_keeps_the_latest_weights():
    model = tiny_model()
    average = WeightAverage(model, decay=0.0)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.mul_(2.0)
    average.update(model)
    for mine, theirs in zip(
        average.model.parameters(), model.parameters(), strict=True
    ):
        assert torch.equal(mine, theirs)


def test_average_state_round_trip():
    model = tiny_model()
    average = WeightAverage(model, decay=0.99)
    for _ in range(3):
        average.update(model)
    restored = WeightAverage(tiny_model(), decay=0.99)
    restored.load_state_dict(average.state_dict())
    assert restored.num_updates == 3
    for mine, theirs in zip(
        restored.model.parameters(), average.model.parameters(), strict=True
    ):
        assert torch.equal(mine, theirs)


def test_budget_cosine_follows_the_budget_and_warms_up():
    from mlpot.train.config import TrainConfig
    from mlpot.train.optim import budget_cosine_lr

    config = TrainConfig(
        lr=1e-2, min_lr=1e-4, scheduler="budget_cosine", warmup_epochs=4
    )
    assert budget_cosine_lr(config, 0.0, 10) == pytest.approx(1e-2)
    assert budget_cosine_lr(config, 0.5, 10) == pytest.approx(0.5 * (1e-2 + 1e-4))
    assert budget_cosine_lr(config, 1.0, 10) == pytest.approx(1e-4)
    assert budget_cosine_lr(config, 1.7, 10) == pytest.approx(1e-4)
    warm = [budget_cosine_lr(config, 0.0, epoch) for epoch in range(5)]
    assert warm == pytest.approx([2e-3, 4e-3, 6e-3, 8e-3, 1e-2])


def test_a_budget_cosine_run_ends_at_min_lr(tmp_path):
    import csv

    from test_train_loop import tiny_run

    from mlpot.train import fit

    run_dir = tmp_path / "run"
    fit(
        tiny_run(
            run_dir,
            max_epochs=5,
            scheduler="budget_cosine",
            warmup_epochs=0,
            min_lr=1e-4,
        )
    )
    with open(run_dir / "metrics.csv", newline="") as handle:
        rates = [float(row["lr"]) for row in csv.DictReader(handle)]
    # The rate of epoch k is set from the share spent before it, k / 5.
    expected = [
        1e-4 + (0.01 - 1e-4) * 0.5 * (1 + math.cos(math.pi * k / 5)) for k in range(5)
    ]
    assert rates == pytest.approx(expected)
