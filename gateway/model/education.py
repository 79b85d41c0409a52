"""What education systems know: school roll, elective home education, missing education."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field


class SchoolEnrolment(BaseModel):
    """A spell on a school's roll; a leaving date ends it, with the reason and destination."""

    model_config = ConfigDict(extra="forbid")

    school_id: str | None = None
    school_name: str | None = None
    entry_date: date | None = None
    leaving_date: date | None = None
    leaving_reason: str | None = None
    destination: str | None = None


class EheRegistration(BaseModel):
    """A child on the LA's elective home education register."""

    model_config = ConfigDict(extra="forbid")

    registered_on: date | None = None
    deregistered_on: date | None = None
    deregistration_reason: str | None = None


class MissingEducation(BaseModel):
    """A child on the LA's children-missing-education list."""

    model_config = ConfigDict(extra="forbid")

    reported_on: date | None = None
    resolved_on: date | None = None


class EducationFacts(BaseModel):
    """Everything an education source says about a child's schooling."""

    model_config = ConfigDict(extra="forbid")

    enrolments: list[SchoolEnrolment] = Field(default_factory=list)
    ehe: list[EheRegistration] = Field(default_factory=list)
    missing_education: list[MissingEducation] = Field(default_factory=list)
