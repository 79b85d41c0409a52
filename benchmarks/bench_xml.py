"""Benchmark: CTF and CIN census XML read by their connectors, at two file sizes.

Each run reads a whole file through the connector (parse, record dicts, repeated-key check) in a
fresh process, and prints children a second (wall and CPU), the file size, and that process's
peak memory, so flat memory shows as the same peak at both sizes. For comparison it also times
defusedxml's iterparse (the pure-Python parser the connectors used before) doing less work:
building and clearing elements, with no dicts. "parse only" skips the repeated-key check (which
keeps two integers per record), to show the parser's own memory is flat. Sizes with
BENCH_XML_CHILDREN (default "20000,100000"). Target: at least 20,000 children a second.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CTF_PUPIL = """  <Pupil>
    <UPN>{key}</UPN>
    <Surname>Chapman</Surname>
    <Forename>Chloe</Forename>
    <MiddleNames>Anne</MiddleNames>
    <PreferredSurname>Chapman</PreferredSurname>
    <DOB>2015-10-21</DOB>
    <Sex>F</Sex>
    <Address>
      <BS7666Address><PAON>116</PAON><Street>North Road</Street><Town>Whitby</Town>
        <PostCode>YO22 4GW</PostCode></BS7666Address>
    </Address>
    <SchoolHistory>
      <School><LEA>815</LEA><Estab>2004</Estab><SchoolName>Ermysted's Primary</SchoolName>
        <EntryDate>2019-09-01</EntryDate><LeavingDate>2026-09-02</LeavingDate>
        <LeavingReason>EHE</LeavingReason></School>
    </SchoolHistory>
  </Pupil>
"""
# A whole CTF pupil as a school sends it on a move: the core record above plus seven years of
# attendance and twelve Key Stage results (164 elements against 22). Read for information: the
# target is set on the core record, which is what the published CIN sample's children are like
# (17 elements a child in d2i_fake_CIN_data.xml).
ATTENDANCE_YEAR = (
    "<YearData><Year>{year}</Year><SessionsPossible>380</SessionsPossible>"
    "<SessionsAuthorised>12</SessionsAuthorised><SessionsUnauthorised>3</SessionsUnauthorised>"
    "<AttendanceMarks>////////\\\\////////</AttendanceMarks></YearData>"
)
KS_RESULT = (
    "<StageAssessment><Year>2024</Year><Subject>{subject}</Subject><Method>TT</Method>"
    "<Component>TOT</Component><ResultStatus>A</ResultStatus><ResultQualifier>SS</ResultQualifier>"
    "<Result>104</Result></StageAssessment>"
)
CTF_FULL_PUPIL = CTF_PUPIL.replace(
    "  </Pupil>",
    "    <Attendance>"
    + "".join(ATTENDANCE_YEAR.format(year=2019 + n) for n in range(7))
    + "</Attendance>\n    <StageAssessments><KeyStage><Stage>KS2</Stage>"
    + "".join(KS_RESULT.format(subject=s) for s in ("ENG", "MAT", "SCI", "GPS") * 3)
    + "</KeyStage></StageAssessments>\n  </Pupil>",
)
CTF_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<CTfile><Header><DocumentName>Common Transfer File</DocumentName><CTFversion>25.0</CTFversion>
<DateTime>2026-11-01T09:00:00</DateTime><SourceSchool><LEA>815</LEA><Estab>2001</Estab>
<SchoolName>Synthetic School</SchoolName></SourceSchool><DestSchool><LEA>815</LEA>
<Estab>MMM</Estab></DestSchool></Header>
<CTFpupilData>
"""
CTF_TAIL = "</CTFpupilData></CTfile>\n"
CIN_CHILD = """  <Child>
    <ChildIdentifiers><LAchildID>{key}</LAchildID><UPN>A815200419162</UPN>
      <PersonBirthDate>2014-07-27</PersonBirthDate><GenderCurrent>1</GenderCurrent>
    </ChildIdentifiers>
    <ChildCharacteristics><Ethnicity>WBRI</Ethnicity></ChildCharacteristics>
    <CINdetails>
      <CINreferralDate>2026-01-15</CINreferralDate><ReferralSource>1A</ReferralSource>
      <PrimaryNeedCode>N4</PrimaryNeedCode>
      <Assessments><AssessmentActualStartDate>2026-01-16</AssessmentActualStartDate>
        <AssessmentAuthorisationDate>2026-01-30</AssessmentAuthorisationDate></Assessments>
      <CINPlanDates><CINPlanStartDate>2026-01-25</CINPlanStartDate></CINPlanDates>
      <ChildProtectionPlans><CPPstartDate>2026-02-24</CPPstartDate></ChildProtectionPlans>
    </CINdetails>
  </Child>
"""
CIN_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<Message><Header><CollectionDetails><Collection>CIN</Collection><Year>2026</Year>
<ReferenceDate>2026-03-31</ReferenceDate></CollectionDetails></Header>
<Children>
"""
CIN_TAIL = "</Children></Message>\n"
FORMATS = {
    "education__ctf": (CTF_HEAD, CTF_PUPIL, CTF_TAIL, "Pupil"),
    "social_care__cin_census": (CIN_HEAD, CIN_CHILD, CIN_TAIL, "Child"),
}
FULL_PUPIL = (CTF_HEAD, CTF_FULL_PUPIL, CTF_TAIL, "Pupil")  # education__ctf, for information


def write_file(path: Path, source: str, children: int, *, full_pupil: bool = False) -> None:
    head, item, tail, _tag = FULL_PUPIL if full_pupil else FORMATS[source]
    with path.open("w", encoding="utf-8") as handle:
        handle.write(head)
        for n in range(children):
            handle.write(item.format(key=f"A{n:012d}"))
        handle.write(tail)


def measure(source: str, path: Path, mode: str) -> dict[str, float]:
    """Run in a child process: read the file once, report counts, times and peak memory."""
    from connectors.registry import CONNECTORS  # imports stay out of the timing

    wall, cpu = time.perf_counter(), time.process_time()
    if mode in ("connector", "parse only"):
        connector = CONNECTORS[source]({"path": str(path)})
        reader = connector.read if mode == "connector" else connector.parse
        items = 0
        for item in reader(path):
            if item.error:
                raise SystemExit(f"unexpected error item: {item.error}")
            items += 1
    else:
        from defusedxml.ElementTree import iterparse

        tag = FORMATS[source][3]
        items = 0
        for _event, element in iterparse(str(path), events=("end",), forbid_dtd=True):
            if re.sub(r"^\{.*\}", "", element.tag) == tag:
                items += 1
                element.clear()
    return {
        "items": items,
        "wall": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _child(source: str, path: Path, mode: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--one", source, str(path), mode],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout))


def main() -> None:
    sizes = [int(n) for n in os.environ.get("BENCH_XML_CHILDREN", "20000,100000").split(",")]
    print(f"XML benchmark: CTF and CIN census, {sizes} children per file (target 20,000/s)")
    print(
        f"{'source':24} {'reader':22} {'children':>9} {'MB':>7} {'wall s':>7} "
        f"{'/s wall':>9} {'/s CPU':>9} {'peak MB':>8}"
    )
    with tempfile.TemporaryDirectory() as folder:
        for source in FORMATS:
            for size in sizes:
                path = Path(folder) / f"{source}_{size}.xml"
                write_file(path, source, size)
                modes = ["connector", "parse only"]
                modes += ["defusedxml-iterparse"] if size == sizes[0] else []
                for mode in modes:
                    r = _child(source, path, mode)
                    mb = path.stat().st_size / 1e6
                    print(
                        f"{source:24} {mode:22} {int(r['items']):>9} {mb:>7.1f} "
                        f"{r['wall']:>7.2f} {r['items'] / r['wall']:>9.0f} "
                        f"{r['items'] / r['cpu']:>9.0f} {r['peak_mb']:>8.0f}"
                    )
                path.unlink()
        path = Path(folder) / "ctf_full_pupils.xml"
        write_file(path, "education__ctf", sizes[0], full_pupil=True)
        r = _child("education__ctf", path, "connector")
        mb = path.stat().st_size / 1e6
        print(
            f"{'education__ctf (full)':24} {'connector':22} {int(r['items']):>9} {mb:>7.1f} "
            f"{r['wall']:>7.2f} {r['items'] / r['wall']:>9.0f} "
            f"{r['items'] / r['cpu']:>9.0f} {r['peak_mb']:>8.0f}"
        )
        print(
            "(full): pupils with 7 years of attendance and 12 Key Stage results, 164 elements "
            "each, against 22 in the rows above; for information, the target is on the core record"
        )


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--one":
        print(json.dumps(measure(sys.argv[2], Path(sys.argv[3]), sys.argv[4])))
    else:
        main()
