"""Forms for the resident's account pages. They parse; services decide."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.utils.translation import gettext_lazy as _
from phonenumber_field.formfields import PhoneNumberField

from civicdesk.identity.models import Channel


class RegisterForm(forms.Form):
    full_name = forms.CharField(label=_("Full name"), max_length=150)
    email = forms.EmailField(label=_("E-mail address"))
    phone = PhoneNumberField(
        label=_("Mobile phone (optional)"),
        required=False,
        help_text=_("In international format, e.g. +27 82 123 4567."),
    )
    preferred_channel = forms.ChoiceField(
        label=_("How should we contact you?"), choices=Channel.choices, initial=Channel.EMAIL
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 8 characters. A long passphrase is best."),
    )

    def clean(self):
        data = super().clean()
        if data.get("preferred_channel") == Channel.SMS and not data.get("phone"):
            self.add_error("phone", _("Add a mobile phone number to receive messages by SMS."))
        return data


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=12,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "pattern": "[0-9 ]*"}
        ),
    )


class LoginForm(forms.Form):
    username = forms.EmailField(
        label=_("E-mail address"), widget=forms.EmailInput(attrs={"autocomplete": "username"})
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, request=None, *args, **kwargs):
        self.request = request
        self.user = None
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        self.user = authenticate(
            self.request, username=data["username"].lower(), password=data["password"]
        )
        if self.user is None:
            raise forms.ValidationError(
                _("The e-mail address or password is not right."), code="invalid_login"
            )
        if not self.user.is_active:
            raise forms.ValidationError(_("This account is disabled."), code="inactive")
        return data


class ProfileForm(forms.Form):
    full_name = forms.CharField(label=_("Full name"), max_length=150)
    phone = PhoneNumberField(
        label=_("Mobile phone"),
        required=False,
        help_text=_("In international format, e.g. +27 82 123 4567."),
    )
    preferred_language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)


class PreferencesForm(forms.Form):
    preferred_channel = forms.ChoiceField(
        label=_("Send my notifications by"), choices=Channel.choices, widget=forms.RadioSelect
    )
    preferred_language = forms.ChoiceField(label=_("In this language"), choices=settings.LANGUAGES)


class PasswordChangeForm(forms.Form):
    old_password = forms.CharField(
        label=_("Current password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    new_password = forms.CharField(
        label=_("New password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 8 characters. A long passphrase is best."),
    )


class PasswordResetStartForm(forms.Form):
    identifier = forms.CharField(
        label=_("E-mail address or verified mobile number"), max_length=254
    )


class SetPasswordForm(forms.Form):
    new_password = forms.CharField(
        label=_("New password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 8 characters. A long passphrase is best."),
    )

    def __init__(self, user=None, *args, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_new_password(self):
        password = self.cleaned_data["new_password"]
        password_validation.validate_password(password, self.user)
        return password


class SmsResetForm(SetPasswordForm):
    code = forms.CharField(
        label=_("Code from the SMS"),
        max_length=12,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )
    field_order = ["code", "new_password"]
