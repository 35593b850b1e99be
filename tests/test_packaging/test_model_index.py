"""model-index.yml in the schema of MMSegmentation's own model index (its
metafiles in the installed mmseg), so ``mim search s4t_mm`` reads it as it
reads mmseg's."""
import glob
import os.path as osp

import mmseg
import yaml

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MMSEG_METAFILES = sorted(glob.glob(osp.join(
    osp.dirname(mmseg.__file__), '.mim', 'configs', '*', 'metafile.yaml')))


def _load(path):
    with open(path) as f:
        return yaml.safe_load(f)


def _mmseg_fields():
    """(collection fields, Paper fields, model fields) mmseg's metafiles
    use."""
    collection, paper, model = set(), set(), set()
    for path in MMSEG_METAFILES:
        index = _load(path)
        for c in index.get('Collections', []):
            collection |= set(c)
            paper |= set(c.get('Paper', {}))
        for m in index.get('Models', []):
            model |= set(m)
    return collection, paper, model


def test_the_model_index_has_mmsegs_schema():
    assert MMSEG_METAFILES
    collection_fields, paper_fields, model_fields = _mmseg_fields()
    assert paper_fields == {'Title', 'URL'}
    index = _load(osp.join(REPO, 'model-index.yml'))
    names = set()
    for collection in index['Collections']:
        assert set(collection) <= collection_fields, collection['Name']
        assert set(collection['Paper']) == paper_fields
        assert collection['Paper']['URL'].startswith('https://')
        names.add(collection['Name'])
    for model in index['Models']:
        assert set(model) <= model_fields, model['Name']
        assert model['In Collection'] in names
        assert osp.isfile(osp.join(REPO, model['Config'])), model['Config']
        assert model['Name'] == osp.splitext(osp.basename(
            model['Config']))[0]
