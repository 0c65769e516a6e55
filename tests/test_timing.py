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
