"""The patterns and word lists behind ``compliance.deid_text``: what a name, place, address, contact,
date or identifier looks like in report text (one rule per line, each tested on the PHI corpus in
``tests/compliance/corpus/phi_text.py``; presidio's NLP model cannot be installed offline).

Names without a cue word are caught through Faker's en_US first and last name lists (MIT; the 690 first
and 1,000 most common US last names), less the ones that are also report words ("Small", "May", "Wall").
"""

from __future__ import annotations

import re
from functools import cache

NAME, DATE, TIME, ID, PHONE, EMAIL, AGE = "[NAME]", "[DATE]", "[TIME]", "[ID]", "[PHONE]", "[EMAIL]", "90+"
URL, ADDRESS, PLACE, INSTITUTION = "[URL]", "[ADDRESS]", "[PLACE]", "[INSTITUTION]"

MONTHS = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
          r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?")
CAP = r"[A-Z][a-zA-Z'\-]+"
NAME_RUN = rf"{CAP}(?:\s+(?:[A-Z]\.\s*)?{CAP}){{0,2}}"
_TLDS = r"(?:com|org|net|edu|gov|mil|info|nhs|uk|ca|au|nz|de|fr|nl)"  # not "no", "in", "it": report words
_STREET = (r"(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Boulevard|Blvd|Way|Court|Ct|Place|Pl|Terrace|"
           r"Close|Crescent|Square|Sq|Parkway|Pkwy|Highway|Hwy|Circle|Cir|Trail|Row|Gardens|Mews)\b\.?")
_INSTITUTION_WORDS = (r"(?:Hospitals?|Medical\s+Cent(?:er|re)|"
                      r"Health(?:care)?\s+(?:System|Trust|Cent(?:er|re))|Clinic|Infirmary|University|College|Institute|Hospice|Nursing\s+Home|Care\s+Home|"
                      r"Imaging\s+Cent(?:er|re)|Cancer\s+Cent(?:er|re)|Children's|Foundation\s+Trust|"
                      r"Medical\s+Group|Radiology(?:\s+Associates)?|Surgery|Practice)")
# Cue words after which a capitalised run is a person: titles, roles, communication verbs.
_PERSON_CUES = (r"(?:patient(?:'s)?\s+name|patient|name|discussed\s+with|discussed|d/w|spoke\s+(?:to|with)|"
                r"speaking\s+(?:to|with)|called\s+to|called|paged|phoned|informed|notified|told|per|cc|"
                r"communicated\s+to|conveyed\s+to|relayed\s+to|reviewed\s+(?:by|with)|dictated\s+by|"
                r"signed\s+by|seen\s+by|referred\s+by|attending|resident|fellow|PCP|RN|NP|nurse|"
                r"technologist|tech|radiographer|physician|surgeon|Dr|Doctor|Prof|Mr|Mrs|Ms|Miss|Mx)")
_RELATIVES = (r"(?:wife|husband|son|daughter|mother|father|mom|mum|dad|brother|sister|partner|spouse|niece|"
              r"nephew|aunt|uncle|grandson|granddaughter|grandmother|grandfather|cousin|friend|neighbou?r|"
              r"carer|caregiver|guardian|fianc[ée]e?|boyfriend|girlfriend|relative)")
_PLACE_CUES = (r"(?:lives|living|resides|residing|resident\s+of|from|moved\s+to|transferred\s+(?:from|to)|"
               r"visiting|travel(?:l?ed)?\s+to|returned\s+from|home\s+in|born\s+in|native\s+of|"
               r"admitted\s+(?:to|at)|in|at|near)")

PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"), EMAIL),
    (re.compile(r"@[\w-]+(?:\.[\w-]+)+\b"), EMAIL),  # a bare mail domain ("@stmarys.org")
    (re.compile(rf"\b(?:https?://|www\.)\S+|\b[A-Za-z][\w-]+(?:\.[\w-]+)*\.{_TLDS}\b(?:/\S*)?"), URL),
    (re.compile(r"\b\d{3}-\d{2}-\d{4}\b"), ID),  # US social security number
    (re.compile(r"(?<![\w.])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,5}\)\s?|\d{2,5}[\s.-])\d{3,4}[\s.-]\d{3,4}\b"),
     PHONE),
    (re.compile(r"(?i)\b(?:ext(?:ension)?|x|pager|bleep|beeper|tel|phone|cell|mobile|fax)\.?\s*[:#]?\s*\d{3,}\b"),
     PHONE),
    (re.compile(r"\b(?:P\.?O\.?\s+Box|Apt|Apartment|Suite|Flat)\.?\s*#?\s*\d+\w*\b", re.I), ADDRESS),
    (re.compile(rf"\b{CAP}(?:\s+{CAP})?,\s+(?:[A-Z]{{2}}|{CAP})\s+\d{{5}}(?:-\d{{4}})?\b"), ADDRESS),
    (re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b"), ADDRESS),  # UK postcode
    (re.compile(rf"\b(?:St\.?\s+|Saint\s+)?(?:{CAP}\s+){{1,4}}{_INSTITUTION_WORDS}"
                rf"(?:\s+(?:of|at)\s+(?:the\s+)?{CAP}(?:\s+{CAP}){{0,2}})?"), INSTITUTION),
    (re.compile(rf"\b(?:Hospital|University|Institute|College)\s+of\s+(?:the\s+)?{CAP}(?:\s+{CAP}){{0,2}}"),
     INSTITUTION),
    (re.compile(rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{MONTHS}(?:,?\s+\d{{4}})?\b", re.I), DATE),
    (re.compile(rf"\b{MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?\s+\d{{4}})?", re.I), DATE),
    (re.compile(r"\b\d{4}([-/.])\d{1,2}\1\d{1,2}\b"), DATE),
    (re.compile(r"\b\d{1,2}([-/.])\d{1,2}\1(?:\d{4}|\d{2})\b"), DATE),  # one separator: not "16.2/24.7"
    (re.compile(rf"\b{MONTHS}\s+\d{{4}}\b", re.I), DATE),
    (re.compile(r"(?i)\b(?:on|dated?|since|from)\s+\d{1,2}/\d{1,2}\b(?!\s*(?:cm|mm|of))"), DATE),
    (re.compile(r"\b(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?(?:\s*(?:[ap]m\b|[ap]\.m\.))?(?!\w)", re.I), TIME),
    (re.compile(r"\b(?:[1-9]|1[0-2])\s*(?:[ap]m\b|[ap]\.m\.)", re.I), TIME),
    (re.compile(r"\b(?:MRN|MR#|ID|NHS(?:\s+(?:no\.?|number))?|SSN|Acc(?:ession)?(?:\s*(?:No\.?|Number|#))?|"
                r"Account|Record|Case|Encounter|Visit)\s*[:#]?\s*(?=[A-Z0-9-]*\d)[A-Z0-9-]{4,}\b", re.I),
     ID),
    (re.compile(r"#\s*\d{3,}\b"), ID),
    (re.compile(r"\b(?=[A-Z0-9-]*\d)[A-Z0-9]{2,}(?:-[A-Z0-9]+)*\d{3,}[A-Z0-9]*\b"), ID),
    (re.compile(r"\b\d{6,}\b"), ID),
    (re.compile(r"\b\d{3}\s\d{3}\s\d{4}\b"), ID),  # NHS number
]

CUED_NAME = re.compile(rf"(?i:(?:\b{_PERSON_CUES}\.?\s*:?,?\s+)+)(?-i:{NAME_RUN})")  # "called to Dr X"
RELATIVE_NAME = re.compile(rf"(?i:\b{_RELATIVES}(?:'s)?,?\s+(?:named\s+|called\s+)?)(?-i:{NAME_RUN})")
CUE = re.compile(rf"(?i)(?:\b(?:{_PERSON_CUES}|{_RELATIVES}(?:'s)?)\.?\s*:?,?\s+(?:named\s+|called\s+)?)+")
_PLACE_WORD = r"[A-Z][a-z][a-zA-Z'\-]*"  # "Springfield", not "LV" or "SVC"
CUED_PLACE = re.compile(rf"(?i:\b{_PLACE_CUES}\s+)(?-i:{_PLACE_WORD}(?:\s+{_PLACE_WORD}){{0,2}})")
PLACE_CUE = re.compile(rf"(?i)\b{_PLACE_CUES}\s+")
AGE_OVER_89 = re.compile(r"\b(9\d|1[0-4]\d)(?=[\s-]*(?:years?|yrs?|y/?o|-year-old)\b)", re.I)
PLACEHOLDER_RUN = re.compile(r"\[(NAME|PLACE)\](?:\s+\[\1\])+")

def _word_set(block: str) -> frozenset[str]:
    return frozenset(block.split())


# Capitalised words that follow a cue but are not names or places: sentence words, roles, anatomy,
# report vocabulary. Lower case words never count as names or places.
NOT_NAMES = _word_set("""
The This That These Those He She They It Its His Her Their We I You Patient Patients Radiologist Physician
Team Referring Clinician Ward Nurse Emergency ED ER ICU Is Has Have Had With Was Were Presents And Or But
Dr Doctor Prof Mr Mrs Ms Miss Mx On Call Duty Attending Resident Fellow Surgeon Surgery Medicine Family
Right Left Bilateral Upper Lower Middle Lobe Lobes Lung Lungs Chest Heart Cardiac Pleural Mediastinum No
Normal Stable Unchanged Comparison Findings Impression Indication History Technique Clinical Report Study
AP PA Lateral Frontal Portable Supine Upright View Views Image Images Film Films CT MRI MR XR CXR PET US
Contrast Today Yesterday Tomorrow Monday Tuesday Wednesday Thursday Friday Saturday Sunday Morning Evening
Night Afternoon Interval Prior Previous Recent Current Followup Follow Up Clinic Department Service Unit
Approximately About Around There Here Then Now Also Again Not Mild Moderate Severe Small Large New Old
Please See Note Consider Recommend Recommended Correlation Correlate Discussed Called Informed Notified
XXXX If In At For To As When While Since After Before Because Thank Thanks Yes Both All Each Some Any
Otherwise However Additionally Further Overall Given Due Of From By
""")
# Words that begin place names but would stop a run of person names.
PLACE_WORDS = frozenset({"New", "North", "South", "East", "West", "Fort", "Saint", "St", "Port", "Lake",
                         "Mount", "Upper", "Lower", "Old"})
# Last names that are also report or common English words (IU reports: Small 295, May 267, Weeks 64, ...).
NOT_SURNAMES = _word_set("""
May Small Short Wall Weeks Colon Gross Case Cross Long White Barrett Young Little Black Green Brown Gray
Grey Hill Wood Woods Stone Bell Rose Lane Love Hope Page Price Rich Field Fields Banks Dean Bishop Sharp
Strong Hardy Moody Walls Marsh Best Bond Booth Bush Carpenter Church Cook Day Fox Frank Free Gay Golden
Hunter Hunt King Knight Mason Miles Moon Moore Major Marshall Newman Noble Parks Person Pope Power Ray Reed
Rice Salt Snow Street Summers Sweet Walker Ward Waters West Wise Wolf Woodward Would Chase Glass Lamb Light
Pierce Porter Potter Shepherd Spring Steel Storm Swan Tanner Tucker Vine Wells Winter Worth Fisher Baker
Bass Bean Beck Bird Blair Blue Bowman Burns Butler Carr Carter Chambers Clay Cole Cooper Cox Craft Dole
Drake Duke Farmer Ford Frost Fuller Gardner Grant Greene Hale Hart Hawk Hayes Head Holiday Holmes House
Howard Hurst Jack Jordan Joy Keen Lord Lyon Mann Mark Mercy Mills Nash North Oak Parish Pearl Penny Pitt
Pool Pratt Quick Read Reese Rock Rowe Sage Savage Sims Skinner Slater Small Spencer Stark Stout Sutton
Swift Temple Thorn Todd Tower Trent Turner Wade Walsh Warren Webb Wheeler Whitney Wilde Will York
""")
NOT_FIRST_NAMES = frozenset({"Mark", "Will", "Hope", "Joy", "Grace", "Faith", "April", "June", "May",
                             "Summer", "Autumn", "Winter", "Dawn", "Chase", "Art", "Bill", "Pat", "Sue",
                             "Rob", "Guy",
                             "Rose", "Iris", "Ray", "Sky", "Star", "Case", "Chance", "Ward", "Lane", "Royal"})


@cache
def person_names() -> tuple[frozenset[str], frozenset[str]]:
    """(first names, last names) from Faker's en_US lists, less report and common English words."""
    from faker.providers.person.en_US import Provider

    first = set(Provider.first_names_female) | set(Provider.first_names_male)
    first |= set(Provider.first_names_nonbinary)
    return (frozenset(first - NOT_FIRST_NAMES - NOT_NAMES),
            frozenset(set(Provider.last_names) - NOT_SURNAMES - NOT_NAMES))


@cache
def street_address() -> re.Pattern[str]:
    """A house number, one to four capitalised words and a street suffix (common ones and Faker's 225)."""
    from faker.providers.address.en_US import Provider

    suffixes = sorted({*Provider.street_suffixes, *re.findall(r"[A-Za-z]+", _STREET)}, key=len, reverse=True)
    suffix = rf"(?:{'|'.join(map(re.escape, suffixes))})\b\.?"
    return re.compile(rf"\b\d{{1,5}}[A-Za-z]?\s+(?:{CAP}\s+){{0,4}}{suffix}(?:,?\s+(?:Apt|Apartment|Unit|"
                      rf"Suite|Flat)\.?\s*#?\w+)?")


@cache
def us_states() -> frozenset[str]:
    from faker.providers.address.en_US import Provider

    return frozenset(Provider.states)
