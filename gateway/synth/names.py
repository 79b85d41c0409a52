"""Word lists for the synthetic population (common English names; no real people)."""

from __future__ import annotations

GIRLS = (
    "Olivia Amelia Isla Ava Mia Ivy Lily Isabella Rosie Sophia Grace Freya Willow Florence Emily "
    "Ella Poppy Evie Elsie Charlotte Evelyn Sienna Sofia Daisy Phoebe Sophie Alice Harper Matilda "
    "Ruby Emilia Maya Millie Isabelle Eva Luna Jessica Elizabeth Chloe Katherine Margaret Abigail "
    "Rebecca Hannah Zara Aisha Fatima Amira Maryam Leah Holly Megan Jasmine Niamh Erin"
).split()
BOYS = (
    "Noah Oliver George Arthur Muhammad Leo Harry Oscar Archie Henry Theodore Freddie Jack Charlie "
    "Theo Alfie Jacob Thomas William Lucas Tommy Finley Isaac Edward James Joshua Alexander Samuel "
    "Daniel Benjamin Joseph Matthew Michael Christopher Nicholas Robert Anthony Jonathan Ethan "
    "Mason Logan Dylan Riley Zain Ibrahim Yusuf Adam Reuben Callum Kieran Connor Liam Owen"
).split()
SURNAMES = (
    "Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright Thompson Evans Walker "
    "White Roberts Green Hall Wood Jackson Clarke Patel Khan Lewis James Phillips Mason Mitchell "
    "Rose Davis Rodriguez Cox Alexander Morgan Moore Mills King Harrison Campbell Ahmed Hughes "
    "Cooper Ward Turner Hill Scott Moss Baker Edwards Young Watson Harris Allen Martin Bell Parker "
    "Kelly Shaw Atkinson Dixon Fletcher Hussain Begum Ali Murphy Kaur Singh Holmes Marshall Fox "
    "Lloyd Barker Chapman Webb Richardson Carter Bennett Gray Kennedy Price Armstrong Pearson"
).split()
NICKNAMES = {
    "William": "Will",
    "Elizabeth": "Beth",
    "Katherine": "Kate",
    "Margaret": "Maggie",
    "Alexander": "Alex",
    "Samuel": "Sam",
    "Daniel": "Dan",
    "Benjamin": "Ben",
    "Joseph": "Joe",
    "Matthew": "Matt",
    "Michael": "Mike",
    "Christopher": "Chris",
    "Nicholas": "Nick",
    "Robert": "Bob",
    "Anthony": "Tony",
    "Jonathan": "Jon",
    "Thomas": "Tom",
    "James": "Jim",
    "Edward": "Ed",
    "Frederick": "Fred",
    "Abigail": "Abi",
    "Rebecca": "Becky",
    "Jessica": "Jess",
    "Charlotte": "Lottie",
    "Isabella": "Bella",
    "Theodore": "Theo",
    "Sophia": "Sophie",
    "Florence": "Flo",
    "Matilda": "Tilly",
    "Emily": "Em",
    "Harry": "Hal",
    "Jacob": "Jake",
}
STREETS = (
    "High Street, Station Road, Church Lane, Mill Lane, Park Road, Main Street, Victoria Road, "
    "Green Lane, Manor Road, Kings Road, Queens Road, New Road, School Lane, The Avenue, "
    "Springfield Road, Westgate, North Road, Chapel Street, York Road, Moor Lane"
).split(", ")
# Towns with a postcode area and districts (North Yorkshire, LA 815).
TOWNS = (
    ("Harrogate", "HG", (1, 2, 3)),
    ("Scarborough", "YO", (11, 12, 13)),
    ("Northallerton", "DL", (6, 7)),
    ("Skipton", "BD", (23,)),
    ("Malton", "YO", (17,)),
    ("Selby", "YO", (8,)),
    ("Ripon", "HG", (4,)),
    ("Whitby", "YO", (21, 22)),
)
SCHOOLS = (
    ("2001", "Harrogate Grammar School"),
    ("2002", "Scarborough Primary Academy"),
    ("2003", "Northallerton School"),
    ("2004", "Ermysted's Primary"),
    ("2005", "Malton Community School"),
    ("2006", "Selby High School"),
)
GP_PRACTICES = ("B82005", "B82018", "B82033", "B82041", "B82064", "B82099", "Y06601")
LEAVING_REASONS = ("EHE", "MOVED", "UNKNOWN", "TRANSFER", "ILL")
TEAMS = (
    "Harrogate Children and Families",
    "Scarborough Locality",
    "Selby Early Help",
    "Northallerton Safeguarding Hub",
)
# Names that siblings are given close to each other's (same sex), so a sibling's record is a
# near miss on the forename.
SIMILAR_SIBLING_NAMES = (
    ("Isabella", "Isabelle", "Isla"),
    ("Ava", "Eva", "Evie"),
    ("Mia", "Maya", "Maryam"),
    ("Sophia", "Sophie", "Sofia"),
    ("Amelia", "Emilia", "Amira"),
    ("Ella", "Ellie", "Elsie"),
    ("Lily", "Lila", "Lola"),
    ("Theo", "Leo", "Theodore"),
    ("Alfie", "Albie", "Archie"),
    ("Harry", "Harvey", "Henry"),
    ("Louis", "Lewis", "Luca"),
    ("Mason", "Jason", "Jayden"),
)
# Alternate spellings and transliterations one agency writes for another's name.
ALTERNATE_SPELLINGS = {
    "Muhammad": ("Mohammed", "Mohammad", "Muhammed"),
    "Aisha": ("Ayesha", "Aysha"),
    "Zain": ("Zayn", "Zane"),
    "Yusuf": ("Yousuf", "Yusef"),
    "Fatima": ("Fatimah",),
    "Maryam": ("Mariam", "Miriam"),
    "Ibrahim": ("Ebrahim",),
    "Niamh": ("Neve", "Neave"),
    "Leah": ("Lea", "Leigh"),
    "Zara": ("Zahra",),
    "Amira": ("Ameera",),
    "Reuben": ("Ruben",),
    "Callum": ("Calum",),
    "Kieran": ("Ciaran",),
    "Connor": ("Conor",),
    "Finley": ("Finlay",),
    "Sophia": ("Sofia",),
    "Isabelle": ("Isobel",),
    "Hussain": ("Hussein", "Husain"),
    "Ahmed": ("Ahmad",),
    "Begum": ("Begom",),
    "Clarke": ("Clark",),
    "Thompson": ("Thomson",),
    "Kelly": ("Kelley",),
    "Davies": ("Davis",),
    "Singh": ("Sing",),
}
