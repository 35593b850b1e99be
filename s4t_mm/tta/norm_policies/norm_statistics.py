"""Per-layer BatchNorm statistics of a batch, and the source's own
batch-to-batch spread of them (the calibration a gated policy tests
against).

A BatchNorm layer normalises channel ``c`` with a mean and a variance. For a
batch we measure both at every layer in one forward pass, *sequentially*:
each layer's input is the output of the layers before it as they normalise
during that pass, which is what the layer will see when it predicts.
"""
from contextlib import contextmanager
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Tuple

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

#: ``fn(name, layer, mean, var)`` called by :func:`observe_batch_norms`
#: with a layer's input statistics (mean and unbiased variance per channel)
#: before the layer normalises; it may write the layer's running buffers.
LayerObserver = Callable[[str, _BatchNorm, torch.Tensor, torch.Tensor], None]


def batch_norm_layers(model: nn.Module) -> List[Tuple[str, _BatchNorm]]:
    """The BatchNorm layers that track running statistics, in forward
    order of registration."""
    return [(n, m) for n, m in model.named_modules()
            if isinstance(m, _BatchNorm) and m.track_running_stats]


def channel_statistics(x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and unbiased variance of ``x`` (N, C, ...), over
    the batch and every spatial position, as BatchNorm tracks them."""
    dims = [0] + list(range(2, x.dim()))
    x = x.detach().float()
    return x.mean(dims), x.var(dims, unbiased=True)


@contextmanager
def observe_batch_norms(layers: Iterable[Tuple[str, _BatchNorm]],
                        observer: LayerObserver) -> Iterator[None]:
    """Within the block, every forward of the ``layers`` first calls
    ``observer`` with its input's statistics."""
    handles = []
    for name, layer in layers:
        def hook(module, args, name=name):
            mean, var = channel_statistics(args[0])
            observer(name, module, mean, var)
        handles.append(layer.register_forward_pre_hook(hook))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def measure_batch(model: nn.Module, inputs: torch.Tensor,
                  layers: Optional[List[Tuple[str, _BatchNorm]]] = None
                  ) -> Dict[str, Tuple[torch.Tensor, torch.Tensor]]:
    """``{layer name: (mean, var)}`` of one batch, measured sequentially
    with the layers normalising as they are set (mode, buffers)."""
    layers = batch_norm_layers(model) if layers is None else layers
    stats: Dict[str, Tuple[torch.Tensor, torch.Tensor]] = {}

    def record(name, layer, mean, var):
        stats[name] = (mean, var)

    # ``tensor`` mode runs every part that holds normalisation layers (an
    # s4t_mm model's backbone, neck and heads; an mmseg segmentor's head)
    with torch.no_grad(), observe_batch_norms(layers, record):
        model(inputs, mode='tensor')
    return stats


def log_variance(var: torch.Tensor, eps: float) -> torch.Tensor:
    """The variance on the log scale the spread is measured on: a variance
    is a scale, so shifts of it compare as ratios."""
    return torch.log(var + eps)


@torch.no_grad()
def calibrate_spread(model: nn.Module, batches: Iterable[torch.Tensor]
                     ) -> dict:
    """The source's batch-to-batch spread of every BatchNorm layer's
    statistics, measured in evaluation mode on source batches.

    Returns ``dict(batch_size=n, num_batches=K, layers={name: dict(
    mean_center, mean_spread, logvar_center, logvar_spread)})``: per channel
    the mean over the K batches of the batch mean (and of the log batch
    variance) and their standard deviations across batches. A target batch
    of the same size drawn from the source distribution lies within one
    spread of the centre on average; :class:`GatedNormPolicy` tests target
    batches against it.
    """
    was_training = model.training
    model.eval()
    layers = batch_norm_layers(model)
    if not layers:
        raise ValueError('the model has no BatchNorm layer to calibrate')
    means: Dict[str, List[torch.Tensor]] = {n: [] for n, _ in layers}
    logvars: Dict[str, List[torch.Tensor]] = {n: [] for n, _ in layers}
    sizes = set()
    try:
        for inputs in batches:
            sizes.add(int(inputs.shape[0]))
            for name, (mean, var) in measure_batch(model, inputs,
                                                   layers).items():
                layer = dict(layers)[name]
                means[name].append(mean)
                logvars[name].append(log_variance(var, layer.eps))
    finally:
        model.train(was_training)
    num_batches = len(next(iter(means.values())))
    if num_batches < 2:
        raise ValueError(f'calibrating the spread needs >= 2 source '
                         f'batches, got {num_batches}')
    if len(sizes) != 1:
        raise ValueError(f'calibration batches must share one size (the '
                         f'spread depends on it), got sizes {sorted(sizes)}')
    result = {}
    for name, _ in layers:
        m = torch.stack(means[name])
        lv = torch.stack(logvars[name])
        result[name] = dict(mean_center=m.mean(0), mean_spread=m.std(0),
                            logvar_center=lv.mean(0),
                            logvar_spread=lv.std(0))
    return dict(batch_size=sizes.pop(), num_batches=num_batches,
                layers=result)


def shift_score(calibration_layer: dict, mean: torch.Tensor,
                var: torch.Tensor, eps: float, spread_scale: float = 1.0
                ) -> torch.Tensor:
    """How far one batch's statistics of a layer lie from the source's, in
    units of the source's batch-to-batch spread: the root mean square over
    channels of the mean's and the log variance's standardised distances
    (0-dim). About 1 for a source batch of the calibration's size;
    ``spread_scale`` rescales the spread to another batch size
    (sqrt(calibration size / batch size))."""
    floor = 1e-6
    z_mean = (mean - calibration_layer['mean_center']) / (
        calibration_layer['mean_spread'] * spread_scale + floor)
    z_var = (log_variance(var, eps) - calibration_layer['logvar_center']) / (
        calibration_layer['logvar_spread'] * spread_scale + floor)
    return torch.cat([z_mean, z_var]).pow(2).mean().sqrt()


def blend_statistics(source: Tuple[torch.Tensor, torch.Tensor],
                     batch: Tuple[torch.Tensor, torch.Tensor],
                     weight: torch.Tensor
                     ) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(1 - a) * source + a * batch`` of a layer's (mean, var), ``a`` =
    ``weight``: 0-dim (the whole layer) or one per channel."""
    return (torch.lerp(source[0], batch[0], weight),
            torch.lerp(source[1], batch[1], weight))


def blended_batch_norm(x: torch.Tensor, layer: _BatchNorm,
                       source: Tuple[torch.Tensor, torch.Tensor],
                       weight) -> torch.Tensor:
    """``layer``'s normalisation of ``x`` (N, C, ...) with the blend of its
    source statistics and ``x``'s own (biased, as BatchNorm in training
    mode), gradients flowing through ``x``'s statistics as through
    BatchNorm in training mode; ``weight`` a float or one per channel.

    Written out because ``torch.nn.functional.batch_norm`` takes the
    statistics it normalises with as constants ("not differentiable with
    respect to argument 'running_mean'"): it can normalise with a blend
    only if no gradient reaches the batch's part of it.
    """
    dims = [0] + list(range(2, x.dim()))
    mean = torch.lerp(source[0].to(x.dtype), x.mean(dims), weight)
    var = torch.lerp(source[1].to(x.dtype), x.var(dims, unbiased=False),
                     weight)
    shape = (1, -1) + (1, ) * (x.dim() - 2)
    y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + layer.eps)
    if layer.affine:
        y = y * layer.weight.view(shape) + layer.bias.view(shape)
    return y


def write_batch_statistics(model: nn.Module, inputs: torch.Tensor,
                           layers: List[Tuple[str, _BatchNorm]]) -> None:
    """Every one of ``layers`` takes the batch's own statistics into its
    running buffers, measured layer after layer (each layer's input with
    the layers before it already normalising with theirs), the layers in
    evaluation mode: BN-adapt with momentum 1, as a blending policy with
    weight 1 computes it."""
    def write(name, layer, mean, var):
        layer.running_mean.copy_(mean)
        layer.running_var.copy_(var)

    with torch.no_grad(), observe_batch_norms(layers, write):
        model(inputs, mode='tensor')


def restore_statistics(layers: List[Tuple[str, _BatchNorm]],
                       statistics: Dict[str, Tuple[torch.Tensor,
                                                   torch.Tensor]]) -> None:
    """Write ``statistics`` ({name: (mean, var)}) back into ``layers``."""
    for name, layer in layers:
        layer.running_mean.copy_(statistics[name][0])
        layer.running_var.copy_(statistics[name][1])
