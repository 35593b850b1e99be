# The continual stream (CoTTA's setting): every benchmark domain
# in one sequence without reset. Each method adapts one step on every test
# batch, predicts it and carries its state on, into the next domain too
# (online protocol without reset_each_domain), from the converged source
# model; the benchmark's stream table lists each domain's delta_m in the
# order met, so a collapse over time shows. Run it with
#
#   python tools/benchmark_methods.py configs/benchmark/synthetic_continual.py
#
# Methods, domains (`benchmark_domains`: appearance shifts, then the
# structural ones) and seeds are those of synthetic_methods.py.
_base_ = ['./synthetic_methods.py']
continual = True
protocol = dict(_base_.online_protocol, _delete_=True)
sync_methods = []
