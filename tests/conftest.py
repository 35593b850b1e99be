import pytest
import torch

from s4t_mm.utils import register_all_modules


@pytest.fixture(scope='session', autouse=True)
def _registered():
    register_all_modules(init_default_scope=True)
    # The tests run tiny tensors, for which threads only add overhead and
    # contention with the subprocesses some tests start.
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)
