"""The diagnosis' gradient shares (``s4t_mm.apis.diagnosis``) on a model
and objective whose shares are known by construction."""
import pytest
import torch
import torch.nn as nn

from s4t_mm.apis.diagnosis import gradient_shares
from s4t_mm.tta.adapters import BaseAdapter


class LinearTerms(nn.Module):
    """``shared`` (2 values) is adapted; ``frozen`` is not."""

    def __init__(self):
        super().__init__()
        self.shared = nn.Parameter(torch.tensor([0.5, -1.0]))
        self.frozen = nn.Parameter(torch.tensor([2.0]))


class LinearTermsAdapter(BaseAdapter):
    """Each term is linear in the parameters, so its gradient on ``shared``
    is its coefficient vector: norms 5 (3, 4), 15 (15, 0) and 0 (a term of
    the frozen parameter only); shares 0.25, 0.75, 0."""

    def select_parameters(self, model):
        return [('shared', model.shared)]

    def objective(self, model, inputs):
        w = model.shared
        return {
            'edge.term': 3 * w[0] + 4 * w[1],
            'semseg.term': 15 * w[0] + 7 * model.frozen.sum(),
            'depth.term': model.frozen.sum() * 100,
        }


def test_each_term_gets_its_share_of_the_summed_gradient_norms():
    model = LinearTerms()
    adapter = LinearTermsAdapter(norm_policy='source_stats').bind(model)
    shares = gradient_shares(adapter, torch.zeros(1))
    assert list(shares) == ['edge.term', 'semseg.term', 'depth.term']
    norms = {k: v['grad_norm'] for k, v in shares.items()}
    assert norms == pytest.approx({'edge.term': 5.0, 'semseg.term': 15.0,
                                   'depth.term': 0.0})
    assert {k: v['share'] for k, v in shares.items()} == pytest.approx(
        {'edge.term': 0.25, 'semseg.term': 0.75, 'depth.term': 0.0})
    # each term's value at the parameters
    assert shares['edge.term']['value'] == pytest.approx(3 * 0.5 - 4.0)
    assert shares['semseg.term']['value'] == pytest.approx(7.5 + 14.0)
    # measuring moves nothing
    assert model.shared.tolist() == [0.5, -1.0]
    assert model.shared.grad is None
