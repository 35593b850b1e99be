"""Registries of s4t_mm, children of MMSegmentation's.

Being children means ``dict(type='mmseg.ResNet')`` builds inside our configs
(the ``mmseg.`` scope prefix reaches the parent), and a plain mmseg config that
imports ``s4t_mm`` through ``custom_imports`` can build our components with
``dict(type='s4t_mm.TaskRelationPredictor')``. ``locations`` make building by
name import the defining package lazily, as mmseg does.
"""
from mmseg.registry import DATA_SAMPLERS as MMSEG_DATA_SAMPLERS
from mmseg.registry import DATASETS as MMSEG_DATASETS
from mmseg.registry import EVALUATOR as MMSEG_EVALUATOR
from mmseg.registry import HOOKS as MMSEG_HOOKS
from mmseg.registry import LOG_PROCESSORS as MMSEG_LOG_PROCESSORS
from mmseg.registry import LOOPS as MMSEG_LOOPS
from mmseg.registry import METRICS as MMSEG_METRICS
from mmseg.registry import MODEL_WRAPPERS as MMSEG_MODEL_WRAPPERS
from mmseg.registry import MODELS as MMSEG_MODELS
from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS as \
    MMSEG_OPTIM_WRAPPER_CONSTRUCTORS
from mmseg.registry import OPTIM_WRAPPERS as MMSEG_OPTIM_WRAPPERS
from mmseg.registry import OPTIMIZERS as MMSEG_OPTIMIZERS
from mmseg.registry import PARAM_SCHEDULERS as MMSEG_PARAM_SCHEDULERS
from mmseg.registry import RUNNERS as MMSEG_RUNNERS
from mmseg.registry import TASK_UTILS as MMSEG_TASK_UTILS
from mmseg.registry import TRANSFORMS as MMSEG_TRANSFORMS
from mmseg.registry import VISBACKENDS as MMSEG_VISBACKENDS
from mmseg.registry import VISUALIZERS as MMSEG_VISUALIZERS
from mmseg.registry import WEIGHT_INITIALIZERS as MMSEG_WEIGHT_INITIALIZERS
from mmengine.registry import INFERENCERS as MMENGINE_INFERENCERS
from mmengine.registry import Registry

SCOPE = 's4t_mm'

RUNNERS = Registry('runner', parent=MMSEG_RUNNERS, scope=SCOPE)
LOOPS = Registry(
    'loop', parent=MMSEG_LOOPS, scope=SCOPE, locations=['s4t_mm.engine'])
HOOKS = Registry(
    'hook', parent=MMSEG_HOOKS, scope=SCOPE, locations=['s4t_mm.engine'])
LOG_PROCESSORS = Registry(
    'log_processor', parent=MMSEG_LOG_PROCESSORS, scope=SCOPE)

DATASETS = Registry(
    'dataset', parent=MMSEG_DATASETS, scope=SCOPE,
    locations=['s4t_mm.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler', parent=MMSEG_DATA_SAMPLERS, scope=SCOPE,
    locations=['s4t_mm.datasets'])
TRANSFORMS = Registry(
    'transform', parent=MMSEG_TRANSFORMS, scope=SCOPE,
    locations=['s4t_mm.datasets.transforms'])

MODELS = Registry(
    'model', parent=MMSEG_MODELS, scope=SCOPE, locations=['s4t_mm.models'])
MODEL_WRAPPERS = Registry(
    'model_wrapper', parent=MMSEG_MODEL_WRAPPERS, scope=SCOPE)
WEIGHT_INITIALIZERS = Registry(
    'weight initializer', parent=MMSEG_WEIGHT_INITIALIZERS, scope=SCOPE)
TASK_UTILS = Registry('task util', parent=MMSEG_TASK_UTILS, scope=SCOPE)

OPTIMIZERS = Registry('optimizer', parent=MMSEG_OPTIMIZERS, scope=SCOPE)
OPTIM_WRAPPERS = Registry(
    'optim_wrapper', parent=MMSEG_OPTIM_WRAPPERS, scope=SCOPE,
    locations=['s4t_mm.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMSEG_OPTIM_WRAPPER_CONSTRUCTORS, scope=SCOPE)
PARAM_SCHEDULERS = Registry(
    'parameter scheduler', parent=MMSEG_PARAM_SCHEDULERS, scope=SCOPE)

METRICS = Registry(
    'metric', parent=MMSEG_METRICS, scope=SCOPE,
    locations=['s4t_mm.evaluation'])
EVALUATOR = Registry(
    'evaluator', parent=MMSEG_EVALUATOR, scope=SCOPE,
    locations=['s4t_mm.evaluation'])
# What MultiTaskMetric measures for each task, registered under the task's
# name: one evaluator per task, declaring its metrics, their directions and
# the one delta_m uses (s4t_mm/evaluation/task_evaluators.py).
TASK_EVALUATORS = Registry(
    'task evaluator', scope=SCOPE, locations=['s4t_mm.evaluation'])

VISUALIZERS = Registry(
    'visualizer', parent=MMSEG_VISUALIZERS, scope=SCOPE,
    locations=['s4t_mm.visualization'])
VISBACKENDS = Registry(
    'vis_backend', parent=MMSEG_VISBACKENDS, scope=SCOPE,
    locations=['s4t_mm.visualization'])

# Test-time adaptation methods (S4T, BN-adapt, TENT, ...): built by the
# TestTimeAdaptHook from ``adapter=dict(type=...)``.
ADAPTERS = Registry(
    'test-time adapter', scope=SCOPE, locations=['s4t_mm.tta'])
# When to reset and when to adapt along a target stream (paper, episodic,
# ...): built by the TestTimeAdaptHook from ``protocol=dict(type=...)``.
PROTOCOLS = Registry(
    'test-time adaptation protocol', scope=SCOPE,
    locations=['s4t_mm.tta.protocols'])
# How normalisation statistics are (not) re-estimated while adapting and
# predicting (source, batch, prior-weighted, gated): every adapter builds
# one from its ``norm_policy=dict(type=...)``.
NORM_POLICIES = Registry(
    'normalisation policy', scope=SCOPE,
    locations=['s4t_mm.tta.norm_policies'])
# One spec per task (label map, evaluator and delta_m metric, visual style,
# raw encoding): a new task is a head plus a spec.
TASKS = Registry('task spec', scope=SCOPE, locations=['s4t_mm.tasks'])
# Running a model on a user's own images (mmengine's BaseInferencer):
# MultiTaskInferencer, buildable by name as OpenMMLab's inferencers are.
INFERENCERS = Registry(
    'inferencer', parent=MMENGINE_INFERENCERS, scope=SCOPE,
    locations=['s4t_mm.apis'])
