import pytest
import torch
from conftest import make_model

from mlpot import MLPotCalculator
from mlpot.timing import force_call_latency


def test_force_call_latency(ethanol):
    calculator = MLPotCalculator(make_model("invariant"))
    before = ethanol.positions.copy()
    result = force_call_latency(calculator, ethanol, repeats=4, warmup=1)
    assert result["atoms"] == len(ethanol)
    assert result["median_ms"] > 0
    assert 0 < result["outside_model_share"] < 1
    assert (ethanol.positions == before).all()  # the caller's atoms did not move
    assert "_evaluate" not in vars(calculator)  # the timing hook is gone


@pytest.mark.parametrize("num_threads, expected", [("auto", 1), (2, 2)])
def test_force_call_latency_reports_the_threads_the_model_ran_on(
    ethanol, num_threads, expected
):
    # "auto" runs a 9-atom call on one thread whatever the process's setting.
    previous = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        calculator = MLPotCalculator(make_model("invariant"), num_threads=num_threads)
        result = force_call_latency(calculator, ethanol, repeats=2, warmup=0)
        assert torch.get_num_threads() == 3  # the call restored the setting
    finally:
        torch.set_num_threads(previous)
    assert result["threads"] == expected
    assert not any(m._forward_pre_hooks for m in calculator.model.modules())
