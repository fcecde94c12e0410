"""A PHI-laden report-text corpus: each case is a sentence as a radiologist might dictate it, the PHI in it
(each string must be gone after de-identification) and clinical words that must survive.

Hand-written cases cover every kind the issue names (names with and without cue words, relatives,
institutions, places, addresses, e-mails and mail domains, phones, dates, ids); generated cases put
Faker's fake people, streets, cities, e-mails and phones (seeded) into report templates.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TextCase:
    text: str
    phi: tuple[str, ...]
    keep: tuple[str, ...] = ()


HAND: list[TextCase] = [
    # people, with cue words
    TextCase("Spoke to Smith at the bedside.", ("Smith",), ("bedside",)),
    TextCase("Findings discussed with Okonkwo, who agreed.", ("Okonkwo",)),
    TextCase("Results called to Dr Abernathy-Quinn.", ("Abernathy-Quinn",)),
    TextCase("Paged Vasquez-Delgado regarding the pneumothorax.", ("Vasquez-Delgado",), ("pneumothorax",)),
    TextCase("Informed Nurse Fairweather of the line position.", ("Fairweather",), ("line position",)),
    TextCase("Per Ramaswamy, the tube was repositioned.", ("Ramaswamy",), ("tube was repositioned",)),
    TextCase("D/W Kowalczyk on 5/3.", ("Kowalczyk", "5/3")),
    TextCase("Reviewed with attending Thistlewood.", ("Thistlewood",)),
    TextCase("Seen by PCP Marchetti last week.", ("Marchetti",)),
    TextCase("Patient: Ingrid Solvang, 61F.", ("Ingrid", "Solvang"), ("61F",)),
    TextCase("Mrs. Featherstonehaugh has a right effusion.", ("Featherstonehaugh",), ("right effusion",)),
    TextCase("cc: Dr. Nakamura, Dr. Oyelaran", ("Nakamura", "Oyelaran")),
    # relatives
    TextCase("History from his wife Marguerite.", ("Marguerite",)),
    TextCase("Daughter Siobhan requests a copy.", ("Siobhan",)),
    TextCase("The patient's son, Tobiah, is the contact.", ("Tobiah",)),
    TextCase("Mother named Ksenia at the bedside.", ("Ksenia",)),
    # people without cue words (on the name lists)
    TextCase("Jennifer reports worsening cough.", ("Jennifer",), ("worsening cough",)),
    TextCase("Compared with the film Michael Rodriguez brought.", ("Michael", "Rodriguez")),
    TextCase("Garcia was informed of the result.", ("Garcia",)),
    TextCase("Follow-up arranged by Patricia Nguyen.", ("Patricia", "Nguyen")),
    # institutions
    TextCase("Prior CT from St. Mary's Hospital reviewed.", ("Mary's",), ("Prior CT",)),
    TextCase("Transferred from Riverside General Hospital.", ("Riverside",)),
    TextCase("Outside films from Massachusetts General Hospital.", ("Massachusetts", "General")),
    TextCase("Comparison: Northwood Imaging Center, 2019.", ("Northwood",)),
    TextCase("Biopsy at the University of Lowell showed adenocarcinoma.", ("Lowell",), ("adenocarcinoma",)),
    TextCase("Followed at Greenbank Clinic for sarcoid.", ("Greenbank",), ("sarcoid",)),
    TextCase("Seen at Kingsbridge Infirmary in 2020.", ("Kingsbridge",)),
    # places and addresses
    TextCase("Lives in Springfield with family.", ("Springfield",)),
    TextCase("Recently returned from Guadalajara.", ("Guadalajara",)),
    TextCase("Transferred from Fort Wayne for further care.", ("Fort Wayne",)),
    TextCase("MVA in Texas yesterday.", ("Texas",)),
    TextCase("Address: 42 Elm Grove Road, Apt 3B.", ("42 Elm Grove", "3B")),
    TextCase("Home at 1600 Pennsylvania Avenue.", ("1600 Pennsylvania",)),
    TextCase("Resides at 7 Willow Close, Oxford OX2 6HG.", ("7 Willow", "OX2 6HG")),
    TextCase("Mail to Boulder, CO 80302.", ("Boulder", "80302")),
    TextCase("PO Box 4471 on file.", ("4471",)),
    # contacts
    TextCase("Send images to jane.doe@stmarys.org.", ("jane.doe", "stmarys")),
    TextCase("Reply to the @northwood-imaging.com inbox.", ("northwood-imaging",)),
    TextCase("Portal: www.riversidehealth.org/results", ("riversidehealth",)),
    TextCase("Call 555-123-4567 with results.", ("555-123-4567",)),
    TextCase("Call (617) 555-0199.", ("617", "555-0199")),
    TextCase("Tel +44 20 7946 0958 for the registrar.", ("7946 0958", "20 7946")),
    TextCase("Reach the team on ext. 4321.", ("4321",)),
    TextCase("Bleep 6612 if deteriorates.", ("6612",)),
    # dates and times
    TextCase("Compared with 2024-03-12.", ("2024-03-12",)),
    TextCase("Compared with 3/12/2024 and 12.03.24.", ("3/12/2024", "12.03.24")),
    TextCase("Stable since March 12.", ("March 12",)),
    TextCase("Seen on the 3rd of March 2023.", ("3rd of March",)),
    TextCase("Stable since Jan 2023.", ("Jan 2023",)),
    TextCase("Phoned at 14:35 and again at 9 pm.", ("14:35", "9 pm")),
    # identifiers
    TextCase("MRN: 12345678.", ("12345678",)),
    TextCase("Accession #A778812 reviewed.", ("A778812",)),
    TextCase("NHS number 943 476 5919.", ("943 476 5919",)),
    TextCase("SSN 123-45-6789 on the request.", ("123-45-6789",)),
    TextCase("Encounter: ENC-20931.", ("ENC-20931", "20931")),
    TextCase("Ref #88412 attached.", ("88412",)),
    # ages over 89
    TextCase("A 93-year-old woman.", ("93",)),
]

# What the rules are known not to catch: a name that is on no list and follows no cue. Counted and
# printed by the test, not required, so that the figure is honest.
KNOWN_LIMITS: list[TextCase] = [
    TextCase("Okonkwo agreed with the plan.", ("Okonkwo",)),
    TextCase("Thistlewood will repeat the film.", ("Thistlewood",)),
]

TEMPLATES = [
    ("Findings discussed with {name} by phone {phone}.", ("name", "phone")),
    ("{name} reports chest pain; lives at {street}.", ("name", "street")),
    ("Results sent to {email}.", ("email",)),
    ("Transferred from {city}; contact {name}.", ("city", "name")),
    ("Home address {street}, {city}, {state_abbr} {zipcode}.", ("street", "zipcode")),
    ("Spoke to {last} about the effusion.", ("last",)),
    ("Her husband {first} was present.", ("first",)),
    ("Prior from {last} Memorial Hospital on {date}.", ("last", "date")),
]


def generated(count: int = 120, seed: int = 19) -> list[TextCase]:
    """Faker's fake PHI in the templates above (seeded: the same corpus every run)."""
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(seed)
    cases = []
    for i in range(count):
        template, slots = TEMPLATES[i % len(TEMPLATES)]
        values = {"name": fake.name(), "phone": fake.numerify("###-###-####"),
                  "street": fake.street_address(), "email": fake.email(), "city": fake.city(),
                  "state_abbr": fake.state_abbr(),
                  "zipcode": fake.zipcode(), "last": fake.last_name(), "first": fake.first_name(),
                  "date": fake.date(pattern="%m/%d/%Y")}
        text = template.format(**values)
        phi: list[str] = []
        for slot in slots:
            value = values[slot]
            if slot in ("name",):  # "Mr. John Smith MD": each part that is a name
                phi += [w for w in value.replace(".", "").split()
                        if w not in ("Mr", "Mrs", "Ms", "Miss", "Dr", "MD", "DDS", "PhD", "DVM", "Jr", "II",
                                     "III", "IV", "V")]
            elif slot == "street":
                phi.append(value.split(" Apt")[0].split(" Suite")[0])
            else:
                phi.append(value)
        cases.append(TextCase(text, tuple(phi)))
    return cases
