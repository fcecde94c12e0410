"""Import a hospital's own studies and signed reports as a training dataset (``medvlm data import``)."""

from medvlm.dataset.importer.run import ImportSummary, import_dataset

__all__ = ["ImportSummary", "import_dataset"]
