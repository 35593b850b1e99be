import pytest
import torch

from s4t_mm.utils import register_all_modules


@pytest.fixture(scope='session', autouse=True)
def _registered():
    register_all_modules(init_default_scope=True)


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)
