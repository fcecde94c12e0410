"""Real report corpora (the IU chest X-ray reports)."""

from medvlm.corpus.iu import IUReport, iu_split, load_iu_reports, mesh_findings

__all__ = ["IUReport", "iu_split", "load_iu_reports", "mesh_findings"]
