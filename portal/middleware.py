"""Request-wide rules: the Content Security Policy and multi-factor enrolment for the roles
that must have it."""

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self' https://assets.nhs.uk",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "object-src 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path.startswith("/admin/") and not request.path.startswith("/api/docs"):
            response.setdefault("Content-Security-Policy", CSP)
        return response


def must_enrol_mfa(user) -> bool:
    """True for a signed-in user whose role requires MFA and who has no authenticator app."""
    if not user.is_authenticated:
        return False
    if user.role not in settings.MFA_REQUIRED_ROLES and not user.is_superuser:
        return False
    return not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


class RequireMFAMiddleware:
    """Local leads, NHS team members and administrators reach nothing until they enrol TOTP."""

    ALLOWED_PREFIXES = ("/accounts/", "/static/", "/healthz", "/media/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if must_enrol_mfa(request.user) and not request.path.startswith(self.ALLOWED_PREFIXES):
            if request.path.startswith("/api/"):
                from django.http import JsonResponse

                return JsonResponse(
                    {"detail": "Set up multi-factor authentication before using the API."},
                    status=403,
                )
            return redirect(reverse("mfa_activate_totp") + "?next=" + request.path)
        return self.get_response(request)
