"""The resume store of a :class:`TestTimeAdaptLoop`: one JSON file per
finished domain, written atomically as the run goes, so a killed run
started again with ``resume`` redoes nothing it finished and ends with the
same results."""
import hashlib
import json
import os
import os.path as osp
from typing import Dict, Optional, Union
from urllib.parse import quote

from mmengine.dist import is_main_process

from s4t_mm.utils import dump_json_atomic, json_ready

_DIGESTS: Dict[tuple, str] = {}


def file_digest(path: str) -> str:
    """The SHA-256 of a file's content (cached per path, size and mtime)."""
    stat = os.stat(path)
    cache_key = (osp.abspath(path), stat.st_size, stat.st_mtime_ns)
    if cache_key not in _DIGESTS:
        digest = hashlib.sha256()
        with open(path, 'rb') as f:
            for chunk in iter(lambda: f.read(1 << 24), b''):
                digest.update(chunk)
        _DIGESTS[cache_key] = digest.hexdigest()
    return _DIGESTS[cache_key]


def _plain(obj):
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def adaptation_settings(adapter: Optional[dict],
                        protocol: Union[str, dict, None],
                        seed: int) -> Optional[dict]:
    """The adaptation part of a run's settings (None: source-only), in the
    form results have been stored under since before the loop existed
    (the ``TestTimeAdaptHook`` entry of the config, seeded), so results
    stored then still resume."""
    if adapter is None:
        return None
    settings = dict(type='TestTimeAdaptHook', adapter=adapter, seed=seed)
    if protocol is not None:
        settings['protocol'] = protocol
    return settings


def result_key(domain: str, checkpoint: str, seed: Optional[int] = None,
               *, model: dict, dataloader: dict, evaluator,
               adaptation: Optional[dict], **extra) -> dict:
    """What a domain's result depends on, to tell a stored result of this
    run from one of another: the domain's name, a digest of the settings
    (the configs of the model, the domain's dataloader, the evaluator, the
    adaptation (:func:`adaptation_settings`) and ``extra``), the
    checkpoint's content digest and the seed (adapted runs). The digest
    sorts dict keys, so the model's task order (its ``heads`` order, which
    lays out the relation predictor's channels) joins it as a list."""
    settings = dict(model=model, tasks=list(model.get('heads', ())),
                    dataloader=dataloader, evaluator=evaluator,
                    adaptation=adaptation, **extra)
    text = json.dumps(_plain(settings), sort_keys=True, default=repr)
    key = dict(domain=domain,
               settings=hashlib.sha256(text.encode()).hexdigest()[:16],
               checkpoint=file_digest(checkpoint)[:16])
    if seed is not None:
        key['seed'] = seed
    return key


class DomainResults:
    """The finished domains of one run (source-only, or one method and
    seed): one JSON file per domain in ``root``, ``{key, result}``, written
    atomically (rank 0) as soon as the domain is done.

    Args:
        root: the run's folder.
        resume: read the results found there; otherwise every domain is
            recomputed and its file overwritten.
    """

    def __init__(self, root: str, resume: bool = False):
        self.root = root
        self.resume = resume

    def path(self, domain: str) -> str:
        return osp.join(self.root, quote(domain, safe='') + '.json')

    def load(self, domain: str, key: dict) -> Optional[dict]:
        """The stored result of ``domain``, or None; a result stored under
        another key (settings, checkpoint, seed) is an error."""
        path = self.path(domain)
        if not self.resume or not osp.isfile(path):
            return None
        with open(path) as f:
            record = json.load(f)
        stored = record.get('key', {})
        differ = sorted(k for k in set(stored) | set(key)
                        if stored.get(k) != key.get(k))
        if differ:
            raise ValueError(
                f'{path} holds the result of another run: its '
                f'{", ".join(f"{k} {stored.get(k)!r}" for k in differ)} '
                f'differ from this run\'s '
                f'{", ".join(f"{key.get(k)!r}" for k in differ)}; move it '
                'away, write to another folder, or run without --resume to '
                'recompute it')
        return record['result']

    def save(self, domain: str, key: dict, result: dict) -> dict:
        """Store ``result`` and return it as it reads back (plain JSON
        types, None for non-finite numbers)."""
        result = json_ready(result)
        if is_main_process():
            dump_json_atomic(dict(key=key, result=result), self.path(domain))
        return result
