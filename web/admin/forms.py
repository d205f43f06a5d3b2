"""WTForms for the workspace. Every field error is shown beside its field (see _field.html)."""
from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp, ValidationError

from config.settings import OCR_LANGUAGE_CHOICES
from repository.dublin_core import ELEMENTS, LANGS
from repository.models import ITEM_TYPES

try:  # WTForms ≥ 3.3 wants SelectChoice; plain (value, label) tuples are deprecated there
    from wtforms.fields.choices import SelectChoice
except ImportError:  # pragma: no cover - older WTForms
    SelectChoice = None


def choices(pairs) -> list:
    """(value, label) pairs as the installed WTForms prefers them."""
    return [SelectChoice(v, l) if SelectChoice else (v, l) for v, l in pairs]


SLUG_RE = r"^[a-z0-9][a-z0-9-]{0,62}$"
SLUG_MESSAGE = _l("Use 1-63 lower-case letters, digits and hyphens.")
LANG_SUFFIX = re.compile(r"^(.*?)\s*@(" + "|".join(re.escape(x) for x in LANGS) + r")\s*$")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def no_control_chars(form, field) -> None:
    if isinstance(field.data, str) and CONTROL.search(field.data):
        raise ValidationError(_l("Contains control characters; remove them."))


class ActionForm(FlaskForm):
    """A button-only form: carries the CSRF token."""


class MetadataForm(FlaskForm):
    """Dublin Core, one value per line; a line may end with @zh-Hant, @zh-Hans or @en."""

    item_type = SelectField(_l("Kind of item"), choices=choices((t, t) for t in ITEM_TYPES))


for _element in ELEMENTS:
    _validators = [Length(max=200_000), no_control_chars]
    if _element == "title":
        _validators.insert(0, DataRequired(message=_l("An item needs a title.")))
    setattr(MetadataForm, _element, TextAreaField(_element.capitalize(), validators=_validators,
                                                  render_kw={"rows": 2 if _element != "description" else 5}))


def metadata_from_form(form: MetadataForm) -> dict[str, list[dict]]:
    """Turn the textareas into tagged values for :func:`repository.dublin_core.normalise`."""
    raw: dict[str, list[dict]] = {}
    for element in ELEMENTS:
        values = []
        for line in (form[element].data or "").splitlines():
            line = line.strip()
            if not line:
                continue
            m = LANG_SUFFIX.match(line)
            values.append({"value": m.group(1), "lang": m.group(2)} if m else {"value": line, "lang": None})
        if values:
            raw[element] = values
    return raw


def metadata_to_form(md: dict, form: MetadataForm) -> None:
    for element in ELEMENTS:
        lines = []
        for v in md.get(element, []):
            lines.append(v["value"] + (f" @{v['lang']}" if v.get("lang") else ""))
        form[element].data = "\n".join(lines)


OCR_CHOICES = choices((c, c) for c in OCR_LANGUAGE_CHOICES)


class UploadForm(FlaskForm):
    collection = SelectField(_l("Collection"), validators=[DataRequired(message=_l("Choose a collection."))])
    title = StringField(_l("Title (default: the file name)"), validators=[Optional(), Length(max=1000), no_control_chars])
    lang = SelectMultipleField(_l("OCR languages"), choices=OCR_CHOICES, validators=[Optional()])
    vertical = BooleanField(_l("Vertical text (古籍, right to left)"))
    publish = BooleanField(_l("Publish as soon as processing succeeds"))

    def validate_lang(self, field) -> None:
        chosen = field.data or []
        if "auto" in chosen and len(chosen) > 1:
            raise ValidationError(_l("Choose 'auto' alone, or the languages without 'auto'."))

    @property
    def lang_value(self) -> str | None:
        return "+".join(self.lang.data) if self.lang.data else None


class ReplaceForm(FlaskForm):
    file = FileField(_l("New file"), validators=[FileRequired(message=_l("Choose the file that replaces the original."))])


class BatchForm(FlaskForm):
    csv = FileField(_l("CSV file"), validators=[FileRequired(message=_l("Choose a CSV file."))])
    archive = FileField(_l("Zip of the files (or choose the files themselves below)"))
    collection = SelectField(_l("Default collection (rows may name their own)"), validators=[Optional()])


class BatchRunForm(FlaskForm):
    only_good = BooleanField(_l("Ingest only the rows without problems"))


class ExhibitForm(FlaskForm):
    slug = StringField(_l("Address (slug)"), validators=[DataRequired(), Regexp(SLUG_RE, message=SLUG_MESSAGE)])
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=500), no_control_chars])
    summary = TextAreaField(_l("Introduction (Markdown)"), validators=[Length(max=100_000), no_control_chars],
                            render_kw={"rows": 6})
    cover_item = IntegerField(_l("Cover: item number"), validators=[Optional(), NumberRange(min=1)])
    cover_page = IntegerField(_l("Cover: page"), validators=[Optional(), NumberRange(min=1)])
    published = BooleanField(_l("Published"))
    featured = BooleanField(_l("Featured on the home page"))


class SectionForm(FlaskForm):
    heading = StringField(_l("Heading"), validators=[Length(max=500), no_control_chars])
    body = TextAreaField(_l("Text (Markdown)"), validators=[Length(max=100_000), no_control_chars],
                         render_kw={"rows": 6})
    item_id = IntegerField(_l("Item number"), validators=[Optional(), NumberRange(min=1)])
    page_n = IntegerField(_l("Single page (optional)"), validators=[Optional(), NumberRange(min=1)])
    caption = TextAreaField(_l("Caption"), validators=[Length(max=10_000), no_control_chars], render_kw={"rows": 2})
    position = IntegerField(_l("Position"), validators=[Optional(), NumberRange(min=1, max=10_000)])


class UserForm(FlaskForm):
    name = StringField(_l("User name"), validators=[DataRequired(), Length(max=100)])
    password = PasswordField(_l("Password (at least 10 characters)"), validators=[DataRequired(), Length(min=10, max=500)])
    role = SelectField(_l("Role"), choices=choices([("archivist", _l("archivist")), ("admin", _l("admin"))]))
    institution = SelectField(_l("Institution"), validators=[Optional()])


class InstitutionForm(FlaskForm):
    slug = StringField(_l("Slug"), validators=[DataRequired(), Regexp(SLUG_RE, message=SLUG_MESSAGE)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=300), no_control_chars])


class CollectionForm(FlaskForm):
    slug = StringField(_l("Slug"), validators=[DataRequired(), Regexp(SLUG_RE, message=SLUG_MESSAGE)])
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=500), no_control_chars])
    institution = SelectField(_l("Institution"), validators=[Optional()])
    description = TextAreaField(_l("Description"), validators=[Length(max=20_000), no_control_chars])
    ocr_languages = SelectMultipleField(_l("Default OCR languages"), choices=OCR_CHOICES, validators=[Optional()])
