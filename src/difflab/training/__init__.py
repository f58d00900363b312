"""Training: the loop, EMA, checkpoints and torch.distributed set-up."""
