"""s4t_mm's registries are children of mmseg's, in both directions."""
import subprocess
import sys
import textwrap

from mmseg.registry import MODELS as MMSEG_MODELS

from s4t_mm.registry import HOOKS, MODELS


def test_mmseg_components_build_by_scope_prefix_in_ours():
    backbone = MODELS.build(dict(type='mmseg.ResNetV1c', depth=18,
                                 base_channels=8, stem_channels=8))
    assert type(backbone).__name__ == 'ResNetV1c'


def test_ours_build_inside_a_plain_mmseg_config(tmp_path):
    """A fresh interpreter that knows only mmseg builds our component once
    the config imports s4t_mm."""
    config = tmp_path / 'plain_mmseg_config.py'
    config.write_text(textwrap.dedent("""
        custom_imports = dict(imports=['s4t_mm'], allow_failed_imports=False)
        default_scope = 'mmseg'
        model = dict(type='s4t_mm.TaskRelationPredictor', in_channels=8,
                     task_channels=dict(depth=1), task_feat_channels=4,
                     input_size=16, autoencoder=dict(
                         patch_size=8, embed_dim=8, depth=1, num_heads=2,
                         decoder_embed_dim=8, decoder_depth=1,
                         decoder_num_heads=2))
    """))
    script = textwrap.dedent(f"""
        from mmengine.config import Config
        from mmseg.registry import MODELS
        from mmseg.utils import register_all_modules
        register_all_modules()
        cfg = Config.fromfile({str(config)!r})
        print(type(MODELS.build(cfg.model)).__name__)
    """)
    out = subprocess.run([sys.executable, '-c', script], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip().endswith('TaskRelationPredictor')


def test_registries_have_mmseg_parents_and_our_scope():
    assert MODELS.parent is MMSEG_MODELS
    assert MODELS.scope == 's4t_mm'
    assert HOOKS.get('TestTimeAdaptHook') is not None


def test_task_specs_are_registered_in_order():
    """The label maps come from the specs, and ``TASKS`` lists the built-in
    tasks in the order delta_m sums them (a fresh process, so no test's
    registrations count)."""
    script = textwrap.dedent("""
        from s4t_mm.registry import TASKS
        from s4t_mm.structures import task_map_spec
        assert task_map_spec('normals').channels == 3
        print(','.join(TASKS.module_dict))
    """)
    out = subprocess.run([sys.executable, '-c', script], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == ('semseg,human_parts,sem_seg,depth,normals,'
                                  'edge,saliency')
