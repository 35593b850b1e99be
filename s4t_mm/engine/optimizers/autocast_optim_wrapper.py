"""Mixed precision on the CPU through an mmengine optimizer wrapper."""
from contextlib import contextmanager
from typing import Union

import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper

from s4t_mm.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward runs under ``torch.autocast``.

    mmengine's ``AmpOptimWrapper`` refuses to run without a GPU; this one
    autocasts on the device the model's parameters live on, meant for bf16
    on CPUs (bf16 keeps fp32's exponent range, so no loss scaling is
    needed). On CUDA with fp16 use mmengine's ``AmpOptimWrapper``.

    Args:
        dtype: ``'bfloat16'`` (default) or ``'float16'``.
    """

    def __init__(self, dtype: Union[str, torch.dtype] = 'bfloat16',
                 **kwargs):
        super().__init__(**kwargs)
        if isinstance(dtype, str):
            if dtype not in ('bfloat16', 'float16'):
                raise ValueError(f"dtype must be 'bfloat16' or 'float16', "
                                 f'got {dtype!r}')
            dtype = getattr(torch, dtype)
        self.cast_dtype = dtype

    @contextmanager
    def optim_context(self, model: nn.Module):
        device = next(model.parameters()).device.type
        with super().optim_context(model), torch.autocast(
                device, dtype=self.cast_dtype):
            yield
