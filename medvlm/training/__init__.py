"""Training: curriculum stages with checkpoints, resume, DDP and evaluation (``train(TrainOptions(...))``)."""
