"""Audit every login success and failure, and track sessions for the 'your sessions' page."""

from __future__ import annotations

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_migrate
from django.dispatch import receiver

from civicdesk.core.audit import audit_record
from civicdesk.core.models import AuditEvent


@receiver(user_logged_in)
def on_login(sender, request, user, **kwargs):
    from civicdesk.identity.middleware import SESSION_LOGIN_AT

    audit_record(AuditEvent.Action.LOGIN_SUCCEEDED, request=request, actor=user)
    if request is not None and hasattr(request, "session"):
        import time

        request.session[SESSION_LOGIN_AT] = int(time.time())


@receiver(user_logged_out)
def on_logout(sender, request, user, **kwargs):
    from civicdesk.identity.models import UserSession

    if user is not None:
        audit_record(AuditEvent.Action.LOGOUT, request=request, actor=user)
    key = getattr(getattr(request, "session", None), "session_key", None)
    if key:
        UserSession.objects.filter(session_key=key).delete()


@receiver(user_login_failed)
def on_login_failed(sender, credentials, request=None, **kwargs):
    identifier = str(credentials.get("username") or credentials.get("email") or "")
    audit_record(AuditEvent.Action.LOGIN_FAILED, request=request, identifier=identifier)


@receiver(user_locked_out)
def on_locked_out(sender, request, username, ip_address, **kwargs):
    audit_record(AuditEvent.Action.LOGIN_LOCKED_OUT, request=request, identifier=username or "")


def sync_roles(sender, **kwargs):
    """Create each role's group with exactly the permissions the role table gives it.

    Runs once per migrate, after the last app's post_migrate, when every permission exists.
    """
    from django.apps import apps
    from django.contrib.auth.models import Group, Permission

    # post_migrate is sent only for apps with models; wait for the last of them.
    if sender.name != [a for a in apps.get_app_configs() if a.models_module][-1].name:
        return

    from civicdesk.identity.roles import ROLES

    for role in ROLES.values():
        group, _created = Group.objects.get_or_create(name=role.name)
        perms = []
        for dotted in role.permissions:
            app_label, codename = dotted.split(".", 1)
            perm = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if perm is not None:
                perms.append(perm)
        group.permissions.set(perms)


def connect_post_migrate(app_config) -> None:
    post_migrate.connect(sync_roles, dispatch_uid="civicdesk.sync_roles")
