"""The intended-use gate: is this study a chest radiograph the model may draft from?

``medvlm.gate.policy.assess_study(paths)`` checks the DICOM attributes of every image (modality, SOP
class, body part, view, photometric, image type, frames) and runs a small image classifier
(``medvlm.gate.classifier``) telling a frontal chest film from a lateral one and from anything else.
Every drafting path (the service's draft worker, ``medvlm draft``, the demo) asks it before drafting.
"""

from medvlm.gate.policy import GateDecision, ImageVerdict, assess_image, assess_study

__all__ = ["GateDecision", "ImageVerdict", "assess_image", "assess_study"]
