"""Evaluation: findings metrics (AUROC, F1, ECE), report metrics (BLEU-4, ROUGE-L, CE-F1, hallucination,
omission) and the ``medvlm eval`` runner that writes ``metrics.json`` and ``report.html``."""
