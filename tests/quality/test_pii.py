"""Personal data: positive and negative examples in English, Polish and Spanish."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from statcoder.errors import ConfigurationError, InputError
from statcoder.quality.national_ids import (
    IdPattern,
    dni_nie_is_valid,
    nip_is_valid,
    pesel_is_valid,
    ssn_is_valid,
)
from statcoder.quality.pii import PiiDetector, redact_frame

DETECTOR = PiiDetector()


def found(text: str, kind: str | None = None) -> list[tuple[str, str]]:
    return [(m.kind, text[m.start : m.end]) for m in DETECTOR.find(text) if kind is None or m.kind == kind]


# ---- national identifiers: check digits ---------------------------------------------------

def test_pesel_checksum_and_date():
    assert pesel_is_valid("44051401359")  # standard example: born 1944-05-14, check digit 9
    assert pesel_is_valid("02270803624")  # month 27 = July 2002 (century 2000)
    assert not pesel_is_valid("44051401358")  # wrong check digit
    assert not pesel_is_valid("44133101357")  # right check digit, but month 13 does not exist
    assert not pesel_is_valid("4405140135")


def test_dni_nie_letters():
    assert dni_nie_is_valid("12345678Z")  # 12345678 mod 23 = 14 -> Z
    assert dni_nie_is_valid("12345678-z")
    assert not dni_nie_is_valid("12345678A")
    assert dni_nie_is_valid("X1234567L")  # X -> 0: 01234567 mod 23 = 19 -> L
    assert dni_nie_is_valid("Y1234567X")  # Y -> 1: 11234567 mod 23 = 10 -> X
    assert not dni_nie_is_valid("X1234567A")


def test_nip_and_ssn():
    assert nip_is_valid("123-456-32-18")
    assert not nip_is_valid("123-456-32-19")
    assert ssn_is_valid("123-45-6789")
    assert not ssn_is_valid("666-45-6789")
    assert not ssn_is_valid("912-45-6789")
    assert not ssn_is_valid("123-00-6789")


# ---- positives --------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text, kind, value",
    [
        ("CV prosimy przesyłać na adres rekrutacja.sklep@firma.com.pl do piątku", "email", "rekrutacja.sklep@firma.com.pl"),
        ("Envíe su currículum a empleo@ayuntamiento-madrid.es", "email", "empleo@ayuntamiento-madrid.es"),
        ("Zadzwoń: +48 601 234 567", "phone", "+48 601 234 567"),
        ("tel. 601-234-567 w godz. 8-16", "phone", "601-234-567"),
        ("tel. (22) 123 45 67", "phone", "(22) 123 45 67"),
        ("kontakt 0048 22 123 45 67", "phone", "0048 22 123 45 67"),
        ("Llamar al 612 34 56 78 por las mañanas", "phone", "612 34 56 78"),
        ("Teléfono: +34 912 345 678", "phone", "+34 912 345 678"),
        ("call 020 7946 0958 today", "phone", "020 7946 0958"),
        ("call (555) 123-4567", "phone", "(555) 123-4567"),
        ("telefon 601234567", "phone", "601234567"),
        ("PESEL: 44051401359", "national_id", "44051401359"),
        ("DNI 12345678Z", "national_id", "12345678Z"),
        ("NIE: X1234567L", "national_id", "X1234567L"),
        ("NI number AB 12 34 56 C", "national_id", "AB 12 34 56 C"),
        ("SSN 123-45-6789", "national_id", "123-45-6789"),
        ("NIP 123-456-32-18", "national_id", "123-456-32-18"),
        ("Aplikuj przez https://www.pracuj.pl/praca/123?x=1.", "url", "https://www.pracuj.pl/praca/123?x=1"),
        ("más información en www.infojobs.net", "url", "www.infojobs.net"),
        ("Osoba kontaktowa: Pani Anna Kowalska", "name", "Anna Kowalska"),
        ("Kontakt z panem Janem Nowakiem", "name", "Janem Nowakiem"),
        ("Dr hab. Ewa Wiśniewska, kierownik", "name", "Ewa Wiśniewska"),
        ("Preguntar por la Sra. María García López", "name", "María García López"),
        ("persona de contacto: José Martínez", "name", "José Martínez"),
        ("Please contact Mr. John Smith", "name", "John Smith"),
        ("Call the shop and ask for Jan Nowak", "name", "Jan Nowak"),
        ("speak to Maria Lopez at reception", "name", "Maria Lopez"),
        ("you will report to Sarah Connor", "name", "Sarah Connor"),
    ],
)
def test_positive_examples(text, kind, value):
    assert (kind, value) in found(text), found(text)


# ---- negatives ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text",
    [
        "Sr. Java Developer, 5+ years",  # "Sr." = senior, not señor
        "Pan de molde y bollería, panadería industrial",  # Spanish bread, not Polish "Pan"
        "Wynagrodzenie 4500-6000 zł brutto, umowa o pracę od 2021-06-15",
        "ul. Długa 12, 61-614 Poznań",  # street address number and postcode
        "Salario 1.200 € al mes, 40 horas, código postal 28013",
        "zarobki 3 000 - 4 500 zł, lata 2019 2020 2021",
        "Znajomość MS Office, Excel; prawo jazdy kat. B",
        "Numer ogłoszenia 44051401358",  # 11 digits, PESEL check digit wrong
        "Referencia 12345678A",  # DNI-shaped, wrong letter
        "ISCO 2512, KZiS 251201, kod 3119",
        "Sprzedawca <<PHONE>> <<EMAIL>>",  # placeholders of an earlier redaction
        "Operario de almacén con carretilla elevadora",
        "Kierownik zmiany w magazynie, praca od poniedziałku do piątku",
        "Persona de contacto: Departamento de Recursos Humanos",
        "Pan Washer",  # English job titles (O*NET) in Title Case
        "Steel Pan Form Placing Supervisor",
        "Pan Tank Worker",
        "Contact Lens Fitter",
        "Apply to Sales Manager position",  # job words after a contact phrase are no name
        "report to the Operations Director",
        "Ask for Excel skills",
    ],
)
def test_negative_examples(text):
    assert found(text) == []


# ---- redaction ---------------------------------------------------------------------------

def test_redaction_replaces_only_the_personal_data():
    text = "Pani Anna Kowalska, tel. +48 601 234 567, a.kowalska@firma.pl, PESEL 44051401359"
    assert DETECTOR.redact(text) == "Pani <<NAME>>, tel. <<PHONE>>, <<EMAIL>>, PESEL <<ID>>"
    assert DETECTOR.redact("Camarero con experiencia") == "Camarero con experiencia"


def test_email_wins_over_name_and_phone_overlaps():
    text = "Mr.Smith@example.com"
    assert [m.kind for m in DETECTOR.find(text)] == ["email"]


def test_scan_counts_records_touched():
    texts = ["tel. 601 234 567 lub 602 345 678", "Cocinero", "jan@x.pl, DNI 12345678Z", ""]
    summary = DETECTOR.scan(texts)
    assert summary.n_records == 4
    assert summary.n_touched == 2
    assert summary.matches["phone"] == 2
    assert summary.records["phone"] == 1
    assert summary.by_label["DNI"] == 1
    assert summary.touched == [True, False, True, False]
    frame = summary.to_frame().set_index("kind")
    assert frame.loc["email", "share_of_records"] == pytest.approx(0.25)


def test_redact_frame_keeps_other_columns():
    frame = pd.DataFrame({"id": ["a", "b"], "title": ["Kelner", "Sr. García"], "desc": ["x@y.es", "nada"]})
    out, summary = redact_frame(frame, ["title", "desc"])
    assert out["id"].tolist() == ["a", "b"]
    assert out["title"].tolist() == ["Kelner", "Sr. <<NAME>>"]
    assert out["desc"].tolist() == ["<<EMAIL>>", "nada"]
    assert summary.n_touched == 2 and summary.records == {"email": 1, "name": 1}
    assert frame["desc"].tolist() == ["x@y.es", "nada"]  # input unchanged
    with pytest.raises(InputError):
        redact_frame(frame, ["nope"])


def test_configurable_countries_and_patterns():
    only_pl = PiiDetector(countries=["PL"])
    assert not [m for m in only_pl.find("DNI 12345678Z") if m.kind == "national_id"]
    # a user-defined identifier: Portuguese NIF-like 9 digits after "NIF", no validator
    custom = PiiDetector(
        countries=[], kinds=["national_id"], extra_id_patterns=[IdPattern("NIF", "PT", r"NIF\s*(\d{9})", group=1)]
    )
    matches = custom.find("NIF 123456789")
    assert [(m.label, m.start, m.end) for m in matches] == [("NIF", 4, 13)]
    with pytest.raises(ConfigurationError):
        PiiDetector(countries=["XX"])
    with pytest.raises(ConfigurationError):
        PiiDetector(kinds=["shoe_size"])


def test_placeholders_configurable():
    d = PiiDetector(placeholders={"email": "[e-mail]"})
    assert d.redact("pisz: a@b.pl") == "pisz: [e-mail]"
    assert re.fullmatch(r"<<PHONE>>", PiiDetector().redact("601 234 567"))
