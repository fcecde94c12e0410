"""The report labeler: report text -> structured findings (present / absent / uncertain with attributes)."""

from medvlm.labeler.labeler import LabeledMention, label_mentions, label_report

__all__ = ["LabeledMention", "label_mentions", "label_report"]
