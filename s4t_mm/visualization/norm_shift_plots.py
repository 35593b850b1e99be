"""Plots of how far each normalisation layer's statistics move under a
target domain (the gated policy's shift scores, issue 23's diagnosis)."""
import re
from typing import Dict, List, Optional

from mmengine.visualization import Visualizer

from .figures import add_figure


def stage_of(layer: str) -> str:
    """The part of the network a BatchNorm layer belongs to: the backbone
    stage (``backbone.layer2``, ``backbone.stem``) or the first name."""
    parts = layer.split('.')
    return '.'.join(parts[:2]) if parts[0] == 'backbone' and len(parts) > 1 \
        else parts[0]


def network_order(layers) -> List[str]:
    """Layer names in the order a backbone-neck-heads network runs them
    (stored results keep them sorted by name): the backbone's stem, its
    numbered stages, the rest of the backbone, the neck, then the rest,
    numbers within a name compared as numbers."""
    def rank(name):
        parts = name.split('.')
        stage = parts[1] if parts[0] == 'backbone' and len(parts) > 1 else ''
        if parts[0] == 'backbone':
            number = re.fullmatch(r'layer(\d+)', stage)
            group = 0 if stage == 'stem' else \
                int(number.group(1)) if number else 100
        else:
            group = 101 if parts[0] == 'neck' else 102
        pieces = [int(p) if p.isdigit() else p
                  for p in re.split(r'(\d+)', name) if p]
        return group, [(0, p) if isinstance(p, int) else (1, p)
                       for p in pieces]
    return sorted(layers, key=rank)


def norm_shift_figure(scores: Dict[str, Dict[str, float]],
                      threshold: Optional[float] = None,
                      weights: Optional[Dict[str, Dict[str, float]]] = None,
                      title: str = ''):
    """One line per domain of its shift score (source spreads, log scale)
    against the BatchNorm layers in forward order, the stages marked; with
    ``weights`` a second panel of the weight each layer gave the target
    statistics."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not scores or not any(scores.values()):
        raise ValueError('no shift scores to plot (run a method whose '
                         "norm_policy is dict(type='gated'))")
    layers = network_order(next(v for v in scores.values() if v))
    if weights and not any(a > 0 for w in weights.values()
                           for a in w.values()):
        weights = None  # no layer adapted anywhere: nothing to draw
    panels = 2 if weights else 1
    fig = Figure(figsize=(11, 3.6 * panels), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(panels, 1, 1)
    x = range(len(layers))
    for domain, by_layer in scores.items():
        ax.plot(x, [by_layer.get(n, float('nan')) for n in layers],
                marker='.', linewidth=1.2, label=domain)
    if threshold is not None:
        ax.axhline(threshold, color='black', linestyle='--', linewidth=0.9,
                   label=f'threshold {threshold:g}')
    ax.set_yscale('log')
    ax.set_ylabel('shift z (source batch-to-batch spreads)')
    ax.set_title(title, pad=34)
    ax.legend(fontsize=7, ncol=4, loc='lower center',
              bbox_to_anchor=(0.5, 1.0), frameon=False)
    axes = [ax]
    if weights:
        ax2 = fig.add_subplot(panels, 1, 2, sharex=ax)
        for domain, by_layer in weights.items():
            ax2.plot(x, [by_layer.get(n, float('nan')) for n in layers],
                     marker='.', linewidth=1.2, label=domain)
        ax2.set_ylabel('weight a of the target statistics')
        ax2.set_ylim(-0.02, 1.02)
        ax.tick_params(labelbottom=False)
        axes.append(ax2)
    stages = [stage_of(n) for n in layers]
    starts = [i for i, s in enumerate(stages) if i == 0 or s != stages[i - 1]]
    for axis in axes:
        for i in starts[1:]:
            axis.axvline(i - 0.5, color='grey', linewidth=0.6, alpha=0.6)
    axes[-1].set_xticks(starts)
    axes[-1].set_xticklabels([stages[i] for i in starts], rotation=30,
                             fontsize=8, ha='right')
    axes[-1].set_xlabel('BatchNorm layers in forward order')
    fig.tight_layout()
    return fig


def plot_norm_shift(scores: Dict[str, Dict[str, float]],
                    out_file: Optional[str] = None,
                    threshold: Optional[float] = None,
                    weights: Optional[Dict[str, Dict[str, float]]] = None,
                    title: str = '', visualizer: Optional[Visualizer] = None,
                    name: str = 'norm_shift', step: int = 0
                    ) -> Optional[str]:
    """Draw :func:`norm_shift_figure` into the backends of ``visualizer``
    and, with ``out_file``, into that PNG (atomically). Returns
    ``out_file``."""
    add_figure(norm_shift_figure(scores, threshold, weights, title), name,
               visualizer, out_file, step)
    return out_file
