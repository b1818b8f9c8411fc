"""One run on disk: train and evaluate, their preflight checks, run ids, folders and locks, checkpoints
written and read, resume, signals, loggers.
"""
