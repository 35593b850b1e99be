"""Save and restore, in place, exactly the state adaptation can change."""
from collections import defaultdict
from typing import Dict, Iterable, List, Tuple

import torch


class StateSnapshot:
    """Copies of a fixed set of tensors, restored with in-place ``copy_``.

    Test-time adaptation changes the adapted parameters and the running
    statistics of normalisation layers, nothing else. Keeping copies of just
    those and copying them back is exact (bitwise) and avoids the
    ``load_state_dict(deepcopy(state))`` of every episode that most TTA code
    does: no allocation, no Python-level walk over the whole state dict.

    Args:
        tensors: (name, tensor) pairs to track; the tensors themselves (not
            copies) so that :meth:`restore` writes into the live model.
    """

    def __init__(self, tensors: Iterable[Tuple[str, torch.Tensor]]):
        self.names, self._live = [], []
        for name, tensor in tensors:
            self.names.append(name)
            self._live.append(tensor)
        # the copies live in one flat tensor per (device, dtype)
        self._saved: List[torch.Tensor] = [None] * len(self._live)
        by_kind = defaultdict(list)
        for i, t in enumerate(self._live):
            by_kind[(t.device, t.dtype)].append(i)
        with torch.no_grad():
            for indices in by_kind.values():
                flat = torch.cat([self._live[i].detach().reshape(-1)
                                  for i in indices])
                offset = 0
                for i in indices:
                    n = self._live[i].numel()
                    self._saved[i] = flat[offset:offset + n].view(
                        self._live[i].shape)
                    offset += n

    @property
    def tensors(self):
        """The live tensors, in tracking order."""
        return list(self._live)

    def __len__(self) -> int:
        return len(self._live)

    def numel(self) -> int:
        return sum(t.numel() for t in self._saved)

    @torch.no_grad()
    def restore(self) -> None:
        """Write the saved values back into the live tensors."""
        for live, saved in zip(self._live, self._saved):
            live.data.copy_(saved)

    @torch.no_grad()
    def update(self) -> None:
        """Take the live values as the new saved state."""
        for live, saved in zip(self._live, self._saved):
            saved.copy_(live.data)

    @torch.no_grad()
    def keep_or_restore(self, keep: torch.Tensor) -> None:
        """Where the 0-dim boolean ``keep`` is true take the live values as
        the saved state, else write the saved values back, without reading
        ``keep`` on the host (no synchronisation with a GPU). Tensor by
        tensor, so each pair is still in the cache for its second pass."""
        for live, saved in zip(self._live, self._saved):
            torch.where(keep.to(saved.device), live.data, saved, out=saved)
            live.data.copy_(saved)

    def matches(self) -> bool:
        """Whether the live tensors equal the saved ones bitwise."""
        return all(torch.equal(a, b) for a, b in zip(self._live, self._saved))

    def saved(self) -> Dict[str, torch.Tensor]:
        return dict(zip(self.names, self._saved))
