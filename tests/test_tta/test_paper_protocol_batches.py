"""Which target batches the paper protocol adapts on."""
import pytest
from torch.utils.data import DataLoader

from s4t_mm.tta.protocols import PaperProtocol, build_protocol


def _loader(n=20, batch_size=8):
    return DataLoader(list(range(n)), batch_size=batch_size)


def _batches(protocol, loader):
    return [b.tolist() for b in protocol.adaptation_batches(loader)]


def test_unshuffled_takes_the_first_batches_in_dataset_order():
    protocol = build_protocol(dict(type='paper', steps=40, num_batches=1,
                                   shuffle=False))
    assert _batches(protocol, _loader()) == [list(range(8))]
    two = PaperProtocol(num_batches=2, shuffle=False)
    assert _batches(two, _loader()) == [list(range(8)), list(range(8, 16))]
    # the seed plays no part without a shuffle
    assert _batches(PaperProtocol(shuffle=False, seed=5),
                    _loader()) == [list(range(8))]


def test_seeded_shuffle_stays_the_default():
    protocol = PaperProtocol()
    assert protocol.shuffle is True
    first = _batches(protocol, _loader())
    assert first == _batches(PaperProtocol(seed=0), _loader())
    (batch, ) = first
    assert len(set(batch)) == 8 and set(batch) <= set(range(20))
    assert batch != list(range(8))
    assert first != _batches(PaperProtocol(seed=1), _loader())


def test_bad_shuffle_value():
    with pytest.raises(TypeError, match="shuffle must be True or False, got "
                       "'no'"):
        PaperProtocol(shuffle='no')
