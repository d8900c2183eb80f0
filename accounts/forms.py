from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import MaxLengthValidator

from accounts.models import Role
from core.errors import ApplicationError

USERNAME_TOO_LONG_MESSAGE = "A username has at most %(limit_value)d characters."


class MembershipAddForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices)


class InvitationForm(forms.Form):
    email = forms.EmailField(label="E-mail address", max_length=254)
    role = forms.ChoiceField(choices=Role.choices)


class InvitationSignUpForm(forms.Form):
    """The invitee's new account; the e-mail address is the invitation's."""

    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    username = forms.CharField(max_length=150)
    password1 = forms.CharField(label="Password", strip=False, widget=forms.PasswordInput)
    password2 = forms.CharField(label="Password again", strip=False, widget=forms.PasswordInput)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password1") and cleaned.get("password1") != cleaned.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        return cleaned


class _BoundedUsername:
    """Django's login form sets the username's max length on the widget only: a longer name reaches
    authenticate(), and django-axes stores it with the failed attempt. Here it is a field error, so
    the form never authenticates it, and the page shows it cut short, not echoed whole."""

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        field = self.fields["username"]
        field.validators.append(MaxLengthValidator(field.max_length, message=USERNAME_TOO_LONG_MESSAGE))
        name = self.add_prefix("username")
        value = self.data.get(name) if self.is_bound else None
        if isinstance(value, str) and len(value) > field.max_length:
            data = self.data.copy()
            data[name] = value[: field.max_length + 1]
            self.data = data


class LoginForm(_BoundedUsername, AuthenticationForm):
    pass


class AdminLoginForm(_BoundedUsername, AdminAuthenticationForm):
    pass


class CodeForm(forms.Form):
    """A two-factor code (from the app or a backup code), with the service's refusal put on it."""

    otp_token = forms.CharField(max_length=64, label="Code")

    def apply(self, error: ApplicationError) -> None:
        field = "otp_token" if error.code in {"invalid_otp", "otp_throttled", "otp_required"} else None
        self.add_error(field, error.message)
