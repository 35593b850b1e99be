# Test-time adaptation protocols: when the model resets, what it adapts on
# and what it then predicts (docs/concepts.md, "Protocols").
# S4T's paper protocol on the embedded world: reset, 40 steps on one seeded
# batch of 8 unlabeled target images, then evaluate the whole target split.
paper_protocol = dict(type='paper', steps=40, num_batches=1, seed=0)
# The same as the reference runs it on its real-data pairs: the first batch
# of the unshuffled target test set.
reference_protocol = dict(type='paper', steps=40, num_batches=1,
                          shuffle=False)
# One step on every test batch, the state carried on (the continual stream).
online_protocol = dict(type='online', steps=1)
