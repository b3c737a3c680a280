"""People named in text that no packet names: the colleague an agent spoke with, the customer who signs a message.

Customer names from the packet (`name_detector`) miss everyone else an agent writes about ("Spoke with Jane Doe
... Jane confirmed it works"), and a published resolution carries them to every customer. Scrubbing every
capitalised word would ruin resolutions full of product names ("Sign in with Okta", "Export from Google
Sheets"), so a person is recognised only where support text shows one:

- after a greeting, a title or a sign-off (`Dear`, `Hi`, `Hello`, `Ms`, `Dr`, `Thanks,`, `Regards,`) or a self
  introduction (`my name is`, `I'm`, `Hi, this is`), whatever the name, unless it is a word such as Team, Support
  or Customer;
- after `with`, `from`, `by`, `I am`, `this is` and the like, and anywhere before a capitalised surname, only when
  the first word is a known given name (GIVEN_NAMES): "with Jane", "Sofia Rossi", never "with GitHub Actions";
- on a signature line (`-- Sven Olsen`), whatever the name, and wherever the text writes out the name an email
  address spells (`Sven Olsen, sven.olsen@acme.example`);
- then every later mention of a part of a name found so ("Jane confirmed it", "Schmidt attached the CSV").

GIVEN_NAMES leaves out names that are also everyday words or products (Will, Grace, Ruby, Alexa, Max), so a
sentence starting "Grace period" or "Ruby Gems" is left alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from deflect.pii.detectors import PARTICLES, name_detector
from deflect.pii.findings import Finding

# Common given names, many languages; none of them is also an everyday word or a product (module docstring).
_GIVEN_NAMES = """
    Aaron Abdul Abigail Adam Adrian Ahmed Ahmad Aiko Aisha Alan Albert Alejandro Alex Alexander Alexandra Alexei
    Alice Alicia Alina Alison Amanda Amelia Amir Amy Ana Andrea Andreas Andrew Andrei Angela Anita Ann Anna Anne
    Anthony Antonio Anya Arjun Arthur Ashley Astrid Barbara Beatriz Ben Benjamin Bernard Beth Bianca Boris Brian
    Bruno Camila Carl Carla Carlos Carmen Caroline Catherine Charles Charlotte Chen Chloe Chris Christian Christina
    Christine Christopher Claire Claudia Colin Connor Craig Cristina Daniel Daniela Daniele David Deborah Dennis
    Diana Diego Dmitri Dmitry Dominic Donald Dorothy Duncan Edward Elena Eleanor Elif Elijah Elizabeth Ella Emily
    Emma Emre Eric Erik Ethan Eva Fatima Felix Fernando Fiona Francesca Francesco Francisco Gabriel Gabriela Gary
    George Georgia Gerald Giulia Giovanni Greg Gregory Hana Hannah Hans Harold Harry Hassan Heather Helen Helena
    Henry Hiroshi Hugo Ian Igor Ines Ingrid Irina Isaac Isabel Isabella Ivan Jacob James Jan Jane Janet Jason
    Javier Jean Jennifer Jeremy Jessica Joan Joanna Joao Joel Johan Johannes John Jonathan Jorge Jose Joseph
    Joshua Juan Judith Julian Julie Julien Karen Karim Katarina Kate Katherine Kathryn Kenji Kevin Kim Laura Lars
    Leila Lena Leo Leon Liam Linda Lisa Lucas Lucia Lucy Luis Luka Lukas Marco Marcus Margaret Maria Marie
    Marina Mario Marta Martin Mary Matteo Matthew Mei Mehmet Melissa Michael Michelle Miguel Mikhail Ming Mohamed
    Mohammed Muhammad Nadia Naomi Natalia Natasha Nathan Nicholas Nicole Nikolai Nina Noah Nora Olga Oliver Olivia
    Omar Oscar Pablo Paolo Patricia Patrick Paul Paula Pedro Peter Philip Pierre Pooja Priya Rachel Rahul Raj
    Rajesh Rebecca Ricardo Richard Robert Roberto Rohan Ruth Ryan Sakura Samantha Samuel Sandra Sara Sarah Sean
    Sebastian Sergei Sergio Simon Sofia Sophia Sophie Stefan Stephanie Stephen Steven Susan Svetlana Takeshi
    Tariq Thomas Timothy Tom Tomas Tomasz Valentina Vanessa Victor Victoria Vikram Vincent Wei Wojciech Xavier
    Yara Yuki Yusuf Zainab Zara Zoe
    Agnieszka Ahmet Alessandro Amit Ananya Anders Anil Aditya Bob Chiara Deepak Dieter Divya Emil Ewa Federico
    Fredrik Giuseppe Hanne Henrik Jakub Jeff Jens Jim Joe Jürgen Katarzyna Kavya Klaus Kofi Kwame Kyle Leonardo
    Lucía Magnus Marek Mateo Mette Mike Minh Neha Ngozi Nils Oskar Pawel Petra Piotr Rafael Ravi Sanjay Santiago
    Scott Sunil Sven Søren Thiago Tim Tuan Tunde Uwe Valeria Wolfgang
"""
GIVEN_NAMES = frozenset(_GIVEN_NAMES.split())
# Words that follow a greeting or sign-off without being anyone's name: "Hi Team", "Thanks, Support", and a
# name with one of them is a team's or a company's ("Thanks, Quiverly Support").
_NOT_PEOPLE_WORDS = """
    Team Teams All Everyone Everybody There Folks Guys Support Customer Customers Sir Madam User Users Admin Admins
    Administrator Again The Our Your My This That Colleague Colleagues Friend Friends Mr Mrs Ms Miss Mx Dr Prof
    Monday Tuesday Wednesday Thursday Friday Saturday Sunday
"""
_NOT_PEOPLE = frozenset(_NOT_PEOPLE_WORDS.split())

_UPPER = "A-ZÀ-ÖØ-Þ"
_LOWER = "a-zß-öø-ÿ"
# One word of a name: Jane, Tomás, O'Neill, McKay, Anna-Lena.
_WORD = rf"(?:O['’]|Mc|Mac)?[{_UPPER}][{_LOWER}]+(?:-[{_UPPER}]?[{_LOWER}]+|['’][{_UPPER}][{_LOWER}]+)*"
_PARTICLE = "(?:" + "|".join(sorted(PARTICLES)) + ")"
_MORE = rf"[ \t]+(?:{_PARTICLE}[ \t]+)?{_WORD}"
_NOT_IN_WORD = rf"(?![{_LOWER}{_UPPER}-]|['’][{_UPPER}])"  # a possessive ('s) may follow
# A whole name on one line: up to four words, surname particles between them.
_NAME = rf"(?P<name>{_WORD}(?:{_MORE}){{0,3}}){_NOT_IN_WORD}"
_GIVEN = "|".join(sorted(GIVEN_NAMES, key=len, reverse=True))
_TITLE = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof)\.?[ \t]+"
# A cue starts the text or follows a space, a bracket or a quote: not "DH/Ms" inside a token.
_START = r"(?<![^\s(\"'])"
# What may follow a name that a greeting or sign-off introduces: the end of the line or a stop.
_ENDS = r"(?=[ \t]*(?:[,!.:;)]|\r?\n|$))"

# Cues whose name may be any name-shaped word; a greeting's or sign-off's name must end its phrase.
_ANY_NAME = (
    re.compile(rf"{_START}(?:Dear|Hi|Hello|Hey|Hiya)[ \t]+(?:{_TITLE})?{_NAME}{_ENDS}"),
    re.compile(rf"{_START}{_TITLE}{_NAME}"),
    # Introducing oneself: "my name is", "I'm", "Hi, this is" (a plain "this is" names things too).
    re.compile(rf"{_START}(?:[Mm]y name is|I['’]m|(?:Hi|Hello|Hey)[,!]?[ \t]+this is)[ \t]+{_NAME}"),
    re.compile(
        rf"{_START}(?:Thanks(?: again)?|Thank you|Many thanks|Cheers|(?:Best|Kind|Warm) regards|Regards"
        rf"|Best wishes|Best|Sincerely)(?:,[ \t]*(?:\r?\n[ \t]*)?|[ \t]+){_NAME}{_ENDS}"
    ),
)
# A signature line: "-- Sven Olsen", "— Anna" (any name-shaped words, as after a sign-off).
_SIGNATURE = re.compile(rf"(?:^|(?<=\n))[ \t]*(?:--|—|–)[ \t]*{_NAME}{_ENDS}")
# An address that spells its owner's name (sven.olsen@...): that name, written out in the text, is a person's.
_EMAIL_NAME = re.compile(r"\b([A-Za-z]{3,})[._-]([A-Za-z]{3,})@[\w.-]+\.[A-Za-z]{2,}")

# Cues that name people and things alike ("with Jane", "with GitHub"): only a known given name counts.
_KNOWN_NAME = (
    re.compile(
        rf"{_START}(?:[Ww]ith|[Ff]rom|[Bb]y|[Tt]o|[Ff]or|cc|[Aa]sk|[Aa]sked|[Tt]old|[Cc]alled|[Ee]mailed|[Cc]ontact"
        r"|I am|[Tt]his is)[ \t]+"
        rf"(?P<name>(?:{_GIVEN})(?:-{_WORD})?(?:{_MORE}){{0,3}}){_NOT_IN_WORD}"
    ),
    # A known given name and a surname, anywhere: "Sofia Rossi confirmed".
    re.compile(rf"(?<![{_LOWER}{_UPPER}'’-])(?P<name>(?:{_GIVEN})(?:-{_WORD})?(?:{_MORE}){{1,3}}){_NOT_IN_WORD}"),
)


def _person(name: str) -> str | None:
    """The name, unless a word of it is no person's."""
    return None if any(word in _NOT_PEOPLE for word in name.split()) else name


def people(text: str) -> list[str]:
    """The people's names `text` introduces (see the module docstring), as written."""
    found = {
        _person(m.group("name")) for pattern in (*_ANY_NAME, _SIGNATURE, *_KNOWN_NAME) for m in pattern.finditer(text)
    }
    for m in _EMAIL_NAME.finditer(text):
        spelled = f"{m.group(1).capitalize()} {m.group(2).capitalize()}"
        if spelled in text:  # only when the text writes the name out; "no.reply@" names nobody
            found.add(_person(spelled))
    return sorted(name for name in found if name)


def find_people(text: str) -> Iterator[Finding]:
    """Every mention of the people `text` introduces, their names' parts alone included, as written (capitalised)."""
    names = people(text)
    if names:
        yield from name_detector(names, case_sensitive=True)(text)
