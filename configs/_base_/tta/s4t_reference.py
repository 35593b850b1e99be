# S4T as the reference runs it on its real-data pairs (configs/s4t/*_r50.py):
# SGD lr 2e-5 and the test-time objective the reference picks by the
# *target* dataset, with its protocol (reference_protocol).
_base_ = ['./protocols.py']
# For a Taskonomy target: the per-task terms lam * L1(rel_t, sg(main_t))
# combined by uncertainty weighting started fresh (0.5 * lam per task).
s4t_taskonomy_target = dict(
    type='S4TAdapter',
    weighting='uncertainty',
    optimizer=dict(type='SGD', lr=2e-5, weight_decay=1e-6))
# For a NYUD-v2 target: each task term weighted by the square of the NYUD-v2
# task weights of its test-time config, given explicitly (lam * w_t^2 =
# 0.01, 0.01, 1, 25).
s4t_nyud_target = dict(
    type='S4TAdapter',
    weighting='squared_task_weights',
    task_weights=dict(semseg=1.0, depth=1.0, normals=10.0, edge=50.0),
    optimizer=dict(type='SGD', lr=2e-5, weight_decay=1e-6))
