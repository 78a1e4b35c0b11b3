"""Request-wide rules: the Content Security Policy, the request the audit trail falls back
to, and multi-factor enrolment for the roles that must have it."""

from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from portal import audit
from portal.accounts import must_enrol_mfa

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


class AuditContextMiddleware:
    """Bind the request so audit events written deep inside (model signals) know who and
    where."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with audit.bound_request(request):
            return self.get_response(request)


class RequireMFAMiddleware:
    """Local leads, NHS team members and administrators reach nothing until they enrol TOTP.

    Only enrolment itself, the password check allauth asks for before it, and sign-out stay
    open; the API answers 403. Static files and the health probe are not pages.
    """

    ALLOWED_URL_NAMES = (
        "mfa_activate_totp",
        "mfa_index",
        "account_reauthenticate",
        "account_logout",
    )
    ALLOWED_PREFIXES = ("/static/", "/healthz")

    def __init__(self, get_response):
        self.get_response = get_response
        self._allowed_paths: frozenset[str] | None = None

    def allowed_paths(self) -> frozenset[str]:
        if self._allowed_paths is None:
            self._allowed_paths = frozenset(reverse(name) for name in self.ALLOWED_URL_NAMES)
        return self._allowed_paths

    def __call__(self, request):
        path = request.path
        if (
            path not in self.allowed_paths()
            and not path.startswith(self.ALLOWED_PREFIXES)
            and must_enrol_mfa(request.user)
        ):
            if path.startswith("/api/"):
                return JsonResponse(
                    {"detail": "Set up multi-factor authentication before using the API."},
                    status=403,
                )
            return redirect("mfa_activate_totp")
        return self.get_response(request)
