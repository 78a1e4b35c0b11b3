"""Pages that belong to no single app: the start page, overview, health, colleague
invitations and the static information pages."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseServerError, JsonResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.urls import NoReverseMatch, reverse
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal import invitations
from portal.health import health_report
from portal.navigation import navigation_for
from portal.reports.overview import overview_figures
from portal.roles import (
    is_employer_user,
    may_invite_colleagues,
    may_see_overview,
    role_of,
    role_requires_mfa,
)


def no_role(request):
    """What a signed-in user without a role can do to get access."""
    return render(
        request,
        "portal/no_role.html",
        {"employer_registration_url": _url_or_none("employers:register")},
        status=403,
    )


def home(request):
    """Anonymous visitors see the start page; signed-in users go to their first page."""
    if not request.user.is_authenticated:
        # A new care employer goes from creating an account straight on to registering.
        return render(
            request,
            "portal/start.html",
            {"employer_registration_url": _url_or_none("employers:register")},
        )
    if not role_of(request.user):
        return no_role(request)
    items = navigation_for(request.user, request.path)
    if items:
        return redirect(items[0].href)
    return no_role(request)


def _url_or_none(name: str) -> str | None:
    """Domain apps' pages are linked by URL name, so portal imports none of them."""
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


@login_required
def overview(request):
    if not may_see_overview(request.user):
        raise PermissionDenied
    return render(request, "portal/overview.html", {"figures": overview_figures(request.user)})


@require_GET
@never_cache
def healthz(request):
    healthy, report = health_report()
    return JsonResponse(report, status=200 if healthy else 503)


def server_error(request):
    """The NHS.UK error page, rendered without the request's context processors or any query:
    whatever broke the page (the database, a context processor) must not break this one."""
    page = loader.get_template("500.html").render({"service_name": settings.SERVICE_NAME})
    return HttpResponseServerError(page)


def accessibility(request):
    return render(request, "portal/accessibility.html")


def privacy(request):
    return render(request, "portal/privacy.html")


class InviteColleagueForm(forms.Form):
    email = forms.EmailField(
        label="Email address",
        help_text="We will send your colleague a link. It works once and expires after 7 days.",
    )
    employer = forms.TypedChoiceField(
        label="Organisation",
        coerce=int,
        help_text="Your colleague will act for this organisation.",
        error_messages={
            "required": "Select the organisation your colleague will act for.",
            "invalid_choice": "Select one of your organisations.",
        },
    )

    def __init__(self, *args, employer_choices=None, **kwargs):
        super().__init__(*args, **kwargs)
        if employer_choices is None:
            del self.fields["employer"]
        else:
            self.fields["employer"].choices = [("", "Select an organisation"), *employer_choices]
        self.fields["email"].error_messages.update(
            required="Enter your colleague's email address.",
            invalid="Enter an email address in the correct format, like name@example.org.",
        )


@login_required
def invite_colleague(request):
    user = request.user
    if not may_invite_colleagues(user):
        raise PermissionDenied
    employer_choices = None
    if is_employer_user(user):
        employer_choices = invitations.invitable_employers(user)
    form = InviteColleagueForm(request.POST or None, employer_choices=employer_choices)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        try:
            invitations.invite_colleague(
                inviter=user,
                email=email,
                employer_id=form.cleaned_data.get("employer"),
                request=request,
            )
        except invitations.InvitationError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"We have sent an invitation to {email}.")
            return redirect("invite_colleague")
    return render(request, "portal/invite_colleague.html", {"form": form})


class AcceptInvitationForm(forms.Form):
    full_name = forms.CharField(
        label="Full name",
        max_length=150,
        error_messages={"required": "Enter your full name."},
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    password1 = forms.CharField(
        label="Create a password",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Use at least 12 characters. Do not use a password you use elsewhere.",
        error_messages={"required": "Create a password."},
    )
    password2 = forms.CharField(
        label="Type the password again",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        error_messages={"required": "Type the password again."},
    )

    def __init__(self, *args, email: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self):
        cleaned = super().clean()
        first, second = cleaned.get("password1"), cleaned.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The passwords do not match. Type the same password twice.")
        if first:
            try:
                validate_password(
                    first, user=_PasswordCandidate(self.email, cleaned.get("full_name", ""))
                )
            except ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned


class _PasswordCandidate:
    """Enough of a user for the similarity validator to compare the password against."""

    def __init__(self, email: str, full_name: str):
        self.email = email
        self.full_name = full_name


def _invitation_refused(request, error: invitations.InvitationError):
    invitations.record_refusal(error, request=request)
    return render(
        request,
        "portal/invitation_invalid.html",
        {"reason": str(error), "error": error.reason},
        status=410 if error.reason in ("expired", "invalid", "used") else 409,
    )


@never_cache
def colleague_invitation(request, token: str):
    """The page a colleague's invitation link opens: create an account, or join with the one
    you are signed in with."""
    try:
        invitation = invitations.invitation_from_token(token)
    except invitations.InvitationError as exc:
        return _invitation_refused(request, exc)
    if request.user.is_authenticated:
        if request.method == "POST":
            try:
                invitations.accept_invitation(token=token, user=request.user, request=request)
            except invitations.InvitationError as exc:
                return _invitation_refused(request, exc)
            messages.success(request, "You have joined. You can now use the service.")
            return redirect("home")
        return render(request, "portal/invitation_accept.html", {"invitation": invitation})
    if invitations.has_account(invitation):
        login_url = reverse("account_login") + "?" + urlencode({"next": request.path})
        return render(
            request,
            "portal/invitation_existing_account.html",
            {"invitation": invitation, "login_url": login_url},
        )
    form = AcceptInvitationForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        try:
            user = invitations.accept_invitation(
                token=token,
                full_name=form.cleaned_data["full_name"],
                password=form.cleaned_data["password1"],
                request=request,
            )
        except invitations.InvitationError as exc:
            return _invitation_refused(request, exc)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, "Your account is ready.")
        return redirect("home")
    return render(
        request,
        "portal/invitation_signup.html",
        {"invitation": invitation, "form": form, "needs_mfa": role_requires_mfa(invitation.role)},
    )
