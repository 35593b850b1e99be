import pytest
import torch
from hypothesis import settings

from s4t_mm.utils import register_all_modules

# Hypothesis keeps no example database (.hypothesis/ in the working
# directory): the suite writes nothing into the checkout; the property tests
# draw from their seeds and shrink within the run.
settings.register_profile('s4t_mm', database=None)
settings.load_profile('s4t_mm')


@pytest.fixture(scope='session', autouse=True)
def _registered():
    register_all_modules(init_default_scope=True)
    # The tests run tiny tensors, for which threads only add overhead and
    # contention with the subprocesses some tests start.
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)
