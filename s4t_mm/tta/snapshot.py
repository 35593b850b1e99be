"""Save and restore, in place, exactly the state adaptation can change."""
from typing import Dict, Iterable, Tuple

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
        with torch.no_grad():
            self._saved = [t.detach().clone() for t in self._live]

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
        if self._live:
            torch._foreach_copy_([t.data for t in self._live], self._saved)

    @torch.no_grad()
    def update(self) -> None:
        """Take the live values as the new saved state."""
        if self._live:
            torch._foreach_copy_(self._saved, [t.data for t in self._live])

    def matches(self) -> bool:
        """Whether the live tensors equal the saved ones bitwise."""
        return all(torch.equal(a, b) for a, b in zip(self._live, self._saved))

    def saved(self) -> Dict[str, torch.Tensor]:
        return dict(zip(self.names, self._saved))
