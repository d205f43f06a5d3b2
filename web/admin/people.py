"""Users, institutions and collections (administrators only)."""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from config import HeritageError, InvalidInput, NotFound
from repository import catalog
from repository.models import Collection, Institution, User
from web.admin import bp
from web.admin.common import put_error, repo, viewer
from web.admin.forms import choices, ActionForm, CollectionForm, InstitutionForm, UserForm
from web.auth import admin_required


def _institution_choices(s, blank: str) -> list[tuple[str, str]]:
    return choices([("", blank)] + [(i.slug, i.name) for i in s.scalars(select(Institution).order_by(Institution.name))])


@bp.route("/users", methods=["GET", "POST"])
@admin_required
def users():
    form = UserForm()
    status = 200
    with repo().session() as s:
        form.institution.choices = _institution_choices(s, _("(none: administrators only)"))
    if form.is_submitted():
        status = 400
        if form.validate():
            try:
                with repo().unit_of_work(viewer().agent) as uow:
                    u = catalog.add_user(uow.session, form.name.data.strip(), form.password.data, form.role.data,
                                         form.institution.data or None)
                    uow.event("user creation", detail={"user": u.name, "role": u.role})
                flash(_("User %(name)s added.", name=form.name.data))
                return redirect(url_for("admin.users"))
            except HeritageError as exc:
                put_error(form, exc, "name")
    with repo().session() as s:
        rows = list(s.scalars(select(User).order_by(User.name)))
        insts = {i.id: i.name for i in s.scalars(select(Institution))}
        return render_template("admin/users.html", form=form, users=rows, insts=insts, action=ActionForm()), status


@bp.post("/users/<int:user_id>/<any(activate, deactivate, unlock):what>")
@admin_required
def user_action(user_id: int, what: str):
    if not ActionForm().validate():
        raise InvalidInput(_("The form expired; reload the page."))
    with repo().unit_of_work(viewer().agent) as uow:
        u = uow.session.get(User, user_id)
        if u is None:
            raise NotFound(_("No such user."))
        if what == "deactivate" and u.id == viewer().user_id:
            raise InvalidInput(_("You cannot disable your own account."))
        if what == "unlock":
            u.failed_logins, u.locked_until = 0, None
        else:
            u.active = what == "activate"
        uow.event(f"user {what}", detail={"user": u.name})
    flash(_("Done."))
    return redirect(url_for("admin.users"))


@bp.route("/institutions", methods=["GET", "POST"])
@admin_required
def institutions():
    form = InstitutionForm()
    status = 200
    if form.is_submitted():
        status = 400
        if form.validate():
            try:
                with repo().unit_of_work(viewer().agent) as uow:
                    catalog.add_institution(uow.session, form.slug.data, form.name.data)
                flash(_("Institution added."))
                return redirect(url_for("admin.institutions"))
            except HeritageError as exc:
                put_error(form, exc, "slug")
    with repo().session() as s:
        rows = list(s.scalars(select(Institution).order_by(Institution.name)))
        return render_template("admin/institutions.html", form=form, rows=rows), status


@bp.route("/collections", methods=["GET", "POST"])
@admin_required
def collections():
    form = CollectionForm()
    status = 200
    with repo().session() as s:
        form.institution.choices = _institution_choices(s, _("(none)"))
    if form.is_submitted():
        status = 400
        if form.validate():
            langs = form.ocr_languages.data or []
            if "auto" in langs and len(langs) > 1:
                form.ocr_languages.errors = [_("Choose 'auto' alone, or the languages without 'auto'.")]
            else:
                try:
                    with repo().unit_of_work(viewer().agent) as uow:
                        c = catalog.add_collection(uow.session, form.slug.data, form.title.data,
                                                   institution_slug=form.institution.data or None,
                                                   description=form.description.data or "")
                        c.ocr_languages = "+".join(langs) or None
                    flash(_("Collection added."))
                    return redirect(url_for("admin.collections"))
                except HeritageError as exc:
                    put_error(form, exc, "slug")
    with repo().session() as s:
        rows = list(s.scalars(select(Collection).order_by(Collection.title)))
        insts = {i.id: i.name for i in s.scalars(select(Institution))}
        return render_template("admin/collections.html", form=form, rows=rows, insts=insts), status
