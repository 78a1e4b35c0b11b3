"""Who saw or exported personal data: every page and file that shows workers' details writes
one audit event when it is served, naming the user, the page and the record it showed, and is
sent with ``Cache-Control: no-store`` so that no browser or proxy keeps a copy.

The lists below are the one place that says which pages those are; a test fails when a view
that reads workers' personal data is missing from them, or when a name here no longer exists.
Changes, approvals and decisions have audit events of their own, written by the services.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.cache import add_never_cache_headers

from portal import audit


@dataclass(frozen=True)
class Access:
    verb: str
    object_type: str = ""
    # The URL argument naming the record shown, when the page shows one record.
    object_argument: str = ""


PERSONAL_DATA_VIEWS: dict[str, Access] = {
    # Employers' staff and their uploads.
    "employers:staff": Access("staff_list_viewed", "employers.employer", "pk"),
    "employers:employment": Access("employment_viewed", "workers.employment", "pk"),
    "employers:employment_left": Access("employment_viewed", "workers.employment", "pk"),
    "employers:upload_detail": Access("staff_upload_viewed", "employers.staffupload", "pk"),
    "employers:upload_errors_csv": Access(
        "staff_upload_errors_exported", "employers.staffupload", "pk"
    ),
    "employers:eligibility_preview_results": Access("eligibility_preview_viewed"),
    "employers:eligibility_preview_csv": Access("eligibility_preview_exported"),
    # Workers, the lead's queue and decisions, questions, letters.
    "workers:list": Access("worker_list_viewed"),
    "workers:detail": Access("worker_viewed", "workers.worker", "pk"),
    "workers:queue": Access("eligibility_queue_viewed"),
    "workers:employment": Access("employment_viewed", "workers.employment", "pk"),
    "workers:questions": Access("questions_viewed"),
    "workers:answer": Access("question_viewed", "workers.informationrequest", "pk"),
    "workers:letters": Access("letters_viewed"),
    # Routing and invitations.
    "bookings:unrouted_workers": Access("unrouted_workers_viewed"),
    "bookings:campaign_invitations": Access(
        "campaign_invitations_viewed", "bookings.campaign", "pk"
    ),
    "bookings:invitation_detail": Access("invitation_viewed", "bookings.invitation", "pk"),
    "bookings:invitation_resend": Access("invitation_viewed", "bookings.invitation", "pk"),
}

# Every other page of the portal, and why serving it records nothing here. A new page must
# be put in one list or the other (tests/test_access_audit.py).
NO_PERSONAL_DATA: dict[str, str] = {
    "home": "links and counts for the user's role",
    "overview": "counts only",
    "healthz": "service health",
    "accessibility": "a static statement",
    "privacy": "a static notice",
    "invite_colleague": "the user's own colleague invitation form",
    "colleague_invitation": "an invitation addressed to the person opening it",
    "employers:list": "organisations, not workers",
    "employers:register": "a form",
    "employers:approvals": "organisations awaiting approval",
    "employers:detail": "one organisation and its counts",
    "employers:decide": "an organisation's approval",
    "employers:template_csv": "the blank template",
    "employers:template_xlsx": "the blank template",
    "employers:upload_list": "files and their counts",
    "employers:upload_new": "a form",
    "employers:upload_progress": "rows checked so far",
    "employers:upload_confirm": "counts to confirm; the import is audited when confirmed",
    "employers:eligibility_preview": "a form",
    "workers:bulk": "the number in a set; the decision is audited when made",
    "workers:verify": "public; each check is audited as eligibility_code_checked",
    "bookings:site_list": "vaccination sites",
    "bookings:site_create": "a form",
    "bookings:site_detail": "a site",
    "bookings:site_edit": "a site",
    "bookings:site_calendar": "places per day",
    "bookings:session_create": "a form",
    "bookings:session_detail": "a session's slots and counts",
    "bookings:session_capacity": "a session's capacity",
    "bookings:session_cancel": "a session; cancelling is audited",
    "bookings:routing_policy": "an area's routing settings",
    "bookings:route_area": "counts; routing is audited",
    "bookings:campaign_list": "campaigns and counts",
    "bookings:campaign_start": "a form",
    "bookings:campaign_detail": "counts per site",
    "bookings:campaign_release": "counts; releasing is audited",
    "bookings:campaign_stop": "a campaign; stopping is audited",
    "notify_delivery_receipt": "Notify's callback, not a person",
    "api-docs": "the API's description: endpoints and fields, no records; public on purpose",
}

# Pages that show a worker their own details. Not stored either, but audited by the view
# itself (bookings.invitations.check_link), so not by the middleware below.
OWN_PERSONAL_DATA: dict[str, str] = {
    "invitation_link": "the worker's own invitation; opening it is audited",
}

# Every answer of the API is records from the caller's scope, so none is stored.
API_PREFIX = "/api/v1/"

# Admin pages of these models show workers' personal data (``app_model`` as admin names them).
PERSONAL_DATA_MODELS = frozenset(
    {
        "workers_worker",
        "workers_eligibilitydecision",
        "workers_informationrequest",
        "employers_staffupload",
        "bookings_route",
        "bookings_invitation",
        "bookings_booking",
        "bookings_message",
    }
)
_ADMIN_PAGES = {"changelist": "admin_list_viewed", "change": "admin_record_viewed"}


def access_for(view_name: str) -> Access | None:
    """What serving the view called ``view_name`` must record, or None."""
    access = PERSONAL_DATA_VIEWS.get(view_name)
    if access is not None or not view_name.startswith("admin:"):
        return access
    model, _, page = view_name.removeprefix("admin:").rpartition("_")
    if model in PERSONAL_DATA_MODELS and page in _ADMIN_PAGES:
        app_label, _, model_name = model.partition("_")
        return Access(_ADMIN_PAGES[page], f"{app_label}.{model_name}", "object_id")
    return None


def shows_personal_data(view_name: str) -> bool:
    """Whether the view called ``view_name`` shows personal data, to anyone."""
    return access_for(view_name) is not None or view_name in OWN_PERSONAL_DATA


class PersonalDataAccessMiddleware:
    """Keep every page, file and API answer of personal data out of browser and proxy caches
    (whatever its status: a form with errors shows the record too), and record each one
    served to a signed-in user (2xx only: a refusal or a 404 for someone else's record
    showed nothing)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        if request.path_info.startswith(API_PREFIX) or (
            match is not None and shows_personal_data(match.view_name)
        ):
            add_never_cache_headers(response)
        user = getattr(request, "user", None)
        if (
            match is None
            or not 200 <= response.status_code < 300
            or user is None
            or not user.is_authenticated
        ):
            return response
        access = access_for(match.view_name)
        if access is not None:
            audit.record(
                verb=access.verb,
                actor=user,
                object_type=access.object_type,
                object_id=match.kwargs.get(access.object_argument, "")
                if access.object_argument
                else "",
                details={"path": request.get_full_path()[:1000], "method": request.method},
                request=request,
            )
        return response
