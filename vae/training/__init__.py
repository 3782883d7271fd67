"""Training and what it needs: one step (step.py), the loop (train.py), data-parallel processes
(distributed.py), checkpoints (checkpoint.py) and the test-set figures of every epoch (evaluate.py)."""
