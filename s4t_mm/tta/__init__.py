from .adapters import *  # noqa: F401,F403
from .protocols import (AdaptationProtocol, EpisodicProtocol, OnlineProtocol,
                        PaperProtocol, ResetEveryProtocol, build_protocol)
from .session import AdaptationReport, AdaptationSession
from .snapshot import StateSnapshot

__all__ = [
    'AdaptationProtocol', 'EpisodicProtocol', 'OnlineProtocol',
    'PaperProtocol', 'ResetEveryProtocol', 'build_protocol',
    'AdaptationReport', 'AdaptationSession', 'StateSnapshot'
]
