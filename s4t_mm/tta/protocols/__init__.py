# imported in the order the valid names are listed in errors
from .paper_protocol import PaperProtocol  # noqa: I001
from .episodic_protocol import EpisodicProtocol
from .online_protocol import OnlineProtocol
from .reset_every_protocol import ResetEveryProtocol
from .base_protocol import (DEFAULT_PROTOCOL, AdaptationProtocol,
                            UnlabeledFn, broadcast_adapted_state,
                            build_protocol, protocol_config)

__all__ = [
    'DEFAULT_PROTOCOL', 'AdaptationProtocol', 'EpisodicProtocol',
    'OnlineProtocol', 'PaperProtocol', 'ResetEveryProtocol', 'UnlabeledFn',
    'broadcast_adapted_state', 'build_protocol', 'protocol_config'
]
