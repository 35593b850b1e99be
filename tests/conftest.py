import tempfile

import pytest
import torch
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

from s4t_mm.utils import register_all_modules

# Hypothesis keeps no example database (.hypothesis/ in the working
# directory): the suite writes nothing into the checkout; the property tests
# draw from their seeds and shrink within the run.
settings.register_profile('s4t_mm', database=None)
settings.load_profile('s4t_mm')
# Hypothesis still keeps caches (e.g. the constants it collects from the code
# under test) in its home directory, by default ./.hypothesis: it goes to a
# temporary directory removed at exit.
_hypothesis_home = tempfile.TemporaryDirectory(prefix='s4t_mm_hypothesis_')
set_hypothesis_home_dir(_hypothesis_home.name)


@pytest.fixture(scope='session', autouse=True)
def _registered():
    register_all_modules(init_default_scope=True)
    # The tests run tiny tensors, for which threads only add overhead and
    # contention with the subprocesses some tests start.
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)
