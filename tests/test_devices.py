"""``--device cpu|cuda|auto`` (issue 9): the agent and the reward ensemble on one device."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rlhp.cli import main
from rlhp.devices import resolve_device
from rlhp.errors import ConfigError

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")


def test_auto_picks_what_torch_sees() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")


@no_cuda
def test_cuda_without_a_device_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ConfigError, match="no CUDA device"):
        resolve_device("cuda")
    out = tmp_path / "run"
    assert main(["train", "CartPole-v1", "--device", "cuda", "--out", str(out)]) == 2
    assert "use --device cpu or --device auto" in capsys.readouterr().err


def test_a_run_on_the_auto_device_trains_both_networks_there(tmp_path: Path) -> None:
    from rlhp.config import TrainConfig
    from rlhp.loop.run_dir import RunDir
    from rlhp.loop.trainer import PreferenceLoop, store_meta
    from rlhp.store.labels import LabelStore

    config = TrainConfig("CartPole-v1", total_timesteps=512, device="auto").with_overrides(
        ["schedule.labels=10", "schedule.updates=2"]
    )
    run = RunDir.create(tmp_path / "run", config)
    store = LabelStore.create(run.store_location, store_meta(config))
    try:
        loop = PreferenceLoop(config, run, store, resume=False, progress=False)
        device = resolve_device("auto")
        assert loop.model is not None and loop.model.device.type == device.type
        assert loop.stack.model.device.type == device.type
        summary = loop.run_to_end()
    finally:
        store.close()
    assert summary.labels_received == 10
