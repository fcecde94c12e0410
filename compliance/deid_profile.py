"""The attribute actions of the DICOM Basic Application Level Confidentiality Profile (PS3.15 Table E.1-1).

Actions: ``X`` remove, ``Z`` replace with an empty value (type 2 attributes that must stay present),
``D`` replace with a dummy value (``compliance.deid`` picks a pseudonym), ``K`` keep. UIDs are not
listed here: every instance UID is remapped (action ``U``) by ``compliance.deid``. Where the standard
allows a choice (X/Z/D), Z is used for attributes of the Patient and General Study modules so that the
output stays a valid instance, X elsewhere.

The keyword spelling is checked against pydicom's dictionary at import (a typo would silently keep
the attribute, so it is an error instead).
"""

from __future__ import annotations

from pydicom.datadict import tag_for_keyword

_REMOVE = """
AcquisitionComments AcquisitionContextSequence AcquisitionDate AcquisitionDateTime
AcquisitionDeviceProcessingDescription AcquisitionProtocolDescription AcquisitionTime
ActualHumanPerformersSequence AdditionalPatientHistory AdmissionID AdmittingDate
AdmittingDiagnosesCodeSequence AdmittingDiagnosesDescription AdmittingTime Allergies AuthorObserverSequence
BranchOfService CassetteID CommentsOnThePerformedProcedureStep
ConfidentialityConstraintOnPatientDataDescription ContentCreatorIdentificationCodeSequence
ContributionDescription CountryOfResidence CurrentPatientLocation CustodialOrganizationSequence
DataSetTrailingPadding DerivationDescription DetectorID DeviceSerialNumber DigitalSignaturesSequence
DischargeDiagnosisDescription DistributionAddress DistributionName EthnicGroup FrameComments GantryID
GeneratorID HumanPerformerName HumanPerformerOrganization IconImageSequence IdentifyingComments
ImageComments ImagePresentationComments ImagingServiceRequestComments Impressions InstitutionAddress
InstitutionCodeSequence InstitutionName InstitutionalDepartmentName InsurancePlanIdentification
IntendedRecipientsOfResultsIdentificationSequence InterpretationApproverSequence InterpretationAuthor
InterpretationDiagnosisDescription InterpretationIDIssuer InterpretationRecorder InterpretationText
InterpretationTranscriber IssuerOfAdmissionID IssuerOfPatientID IssuerOfServiceEpisodeID MedicalAlerts
MedicalRecordLocator MilitaryRank ModifiedAttributesSequence ModifiedImageDescription ModifyingDeviceID
NameOfPhysiciansReadingStudy NamesOfIntendedRecipientsOfResults Occupation OperatorIdentificationSequence
OperatorsName OrderCallbackPhoneNumber OrderEnteredBy OrderEntererLocation OriginalAttributesSequence
OtherPatientIDs OtherPatientIDsSequence OtherPatientNames ParticipantSequence PatientAddress PatientAge
PatientBirthName PatientBirthTime PatientComments PatientInstitutionResidence
PatientInsurancePlanCodeSequence PatientMotherBirthName PatientPrimaryLanguageCodeSequence
PatientReligiousPreference PatientSexNeutered PatientSize PatientState PatientTelecomInformation
PatientTelephoneNumbers PatientTransportArrangements PatientWeight PerformedLocation
PerformedProcedureStepDescription PerformedProcedureStepEndDate PerformedProcedureStepEndTime
PerformedProcedureStepID PerformedProcedureStepStartDate PerformedProcedureStepStartTime
PerformingPhysicianIdentificationSequence PerformingPhysicianName PersonAddress PersonTelephoneNumbers
PhysicianApprovingInterpretation PhysiciansOfRecord PhysiciansOfRecordIdentificationSequence
PhysiciansReadingStudyIdentificationSequence PlateID PreMedication PregnancyStatus ProtocolName
ReasonForStudy ReasonForTheImagingServiceRequest ReferencedDigitalSignatureSequence
ReferencedPatientAliasSequence ReferencedPatientSequence ReferencedPerformedProcedureStepSequence
ReferencedSOPInstanceMACSequence ReferencedStudySequence ReferringPhysicianAddress
ReferringPhysicianIdentificationSequence ReferringPhysicianTelephoneNumbers RegionOfResidence
RequestAttributesSequence RequestedContrastAgent RequestedProcedureComments RequestedProcedureDescription
RequestedProcedureID RequestedProcedureLocation RequestingPhysician RequestingService
ResponsibleOrganization ResponsiblePerson ResultsComments ResultsDistributionListSequence ResultsIDIssuer
ScheduledHumanPerformersSequence ScheduledPatientInstitutionResidence
ScheduledPerformingPhysicianIdentificationSequence ScheduledPerformingPhysicianName
ScheduledProcedureStepDescription ScheduledProcedureStepEndDate ScheduledProcedureStepEndTime
ScheduledProcedureStepLocation ScheduledProcedureStepStartDate ScheduledProcedureStepStartTime
ScheduledStationAETitle ScheduledStationGeographicLocationCodeSequence ScheduledStationName
ScheduledStationNameCodeSequence ScheduledStudyLocation ScheduledStudyLocationAETitle SeriesDate
SeriesDescription SeriesTime ServiceEpisodeDescription ServiceEpisodeID SmokingStatus SpecialNeeds
StationName StudyComments StudyDescription StudyIDIssuer TextComments TextString TimezoneOffsetFromUTC
TopicAuthor TopicKeywords TopicSubject TopicTitle VerifyingObserverIdentificationCodeSequence VisitComments
InstanceCreationDate InstanceCreationTime InstitutionalDepartmentTypeCodeSequence OverlayDate OverlayTime
CurveDate CurveTime DateOfLastCalibration TimeOfLastCalibration DateOfSecondaryCapture
TimeOfSecondaryCapture RequestedProcedureCodeSequence ProcedureCodeSequence PerformedProcedureCodeSequence
AdmittingDiagnosesCodeSequence PatientBreedDescription ResponsiblePersonRole
"""

# Type 2 attributes of the Patient / General Study / General Series modules: kept present, emptied.
_EMPTY = """
AccessionNumber ContentDate ContentTime FillerOrderNumberImagingServiceRequest
PlacerOrderNumberImagingServiceRequest PatientBirthDate PatientSex ReferringPhysicianName StudyDate StudyID
StudyTime ContrastBolusAgent ContentCreatorName
"""

# Replaced with a consistent pseudonym (same patient -> same pseudonym, so studies of one patient stay
# linked for training splits without naming anyone).
_DUMMY = """
PatientName PatientID VerifyingObserverName PersonName VerifyingOrganization
"""

# Kept by the Retain Patient Characteristics Option (DCM 113108): age, sex, size, weight matter clinically.
PATIENT_CHARACTERISTICS = frozenset({"PatientAge", "PatientSex", "PatientSize", "PatientWeight",
                                     "EthnicGroup", "PregnancyStatus", "SmokingStatus", "PatientSexNeutered"})


def _words(block: str) -> frozenset[str]:
    names = frozenset(block.split())
    unknown = sorted(n for n in names if tag_for_keyword(n) is None)
    if unknown:
        raise RuntimeError(f"de-identification profile names unknown DICOM keywords: {unknown}")
    return names


REMOVE = _words(_REMOVE)
EMPTY = _words(_EMPTY)
DUMMY = _words(_DUMMY)
_words(" ".join(PATIENT_CHARACTERISTICS))

# UIDs that identify a definition, not an instance or a person: never remapped.
UID_KEEP = frozenset({"SOPClassUID", "MediaStorageSOPClassUID", "ReferencedSOPClassUID", "TransferSyntaxUID",
                      "ImplementationClassUID", "CodingSchemeUID", "ContextUID", "MappingResourceUID",
                      "ReferencedSOPClassUIDInFile", "ReferencedTransferSyntaxUIDInFile",
                      "SOPClassesInStudy", "RelatedGeneralSOPClassUID", "OriginalSpecializedSOPClassUID",
                      "PrivateInformationCreatorUID", "ContextGroupExtensionCreatorUID"})

# Modalities whose pixels often carry burned-in text; an absent BurnedInAnnotation there is refused.
BURNED_IN_RISK_MODALITIES = frozenset({"US", "SC", "OT", "XC", "ES", "GM", "SM", "DOC", "ECG", "IVUS"})

METHOD = "PS3.15 E.1 Basic Profile (MedVLM deid 1)"  # LO: at most 64 characters
