"""What each role sees in the header navigation. Apps register their entries by URL name,
so portal does not import them; a URL that is not installed is left out."""

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse

from portal.roles import Role, role_of

# (role, text, url name). Order is display order.
NAVIGATION: list[tuple[str, str, str]] = [
    (Role.EMPLOYER, "Your organisations", "employers:list"),
    (Role.EMPLOYER, "Questions from your lead", "workers:questions"),
    (Role.EMPLOYER, "Invite a colleague", "invite_colleague"),
    (Role.LOCAL_LEAD, "Employers to approve", "employers:approvals"),
    (Role.LOCAL_LEAD, "Eligibility review", "workers:queue"),
    (Role.LOCAL_LEAD, "Workers", "workers:list"),
    (Role.LOCAL_LEAD, "Vaccination sites", "bookings:site_list"),
    (Role.LOCAL_LEAD, "Routing", "bookings:routing_policy"),
    (Role.LOCAL_LEAD, "Invitations", "bookings:campaign_list"),
    (Role.LOCAL_LEAD, "Invite a colleague", "invite_colleague"),
    (Role.LOCAL_LEAD, "Preview rule changes", "employers:eligibility_preview"),
    (Role.SITE_STAFF, "Your site", "bookings:site_list"),
    (Role.NHS_TEAM, "Overview", "overview"),
    (Role.NHS_TEAM, "Vaccination sites", "bookings:site_list"),
    (Role.ADMINISTRATOR, "Overview", "overview"),
    (Role.ADMINISTRATOR, "Employers", "employers:list"),
    (Role.ADMINISTRATOR, "Eligibility review", "workers:queue"),
    (Role.ADMINISTRATOR, "Vaccination sites", "bookings:site_list"),
    (Role.ADMINISTRATOR, "Audit log", "admin:portal_auditevent_changelist"),
    (Role.ADMINISTRATOR, "Administration", "admin:index"),
    (Role.ADMINISTRATOR, "Preview rule changes", "employers:eligibility_preview"),
]


@dataclass(frozen=True)
class NavItem:
    text: str
    href: str
    current: bool


def navigation_for(user, path: str) -> list[NavItem]:
    role = role_of(user)
    if not role:
        return []
    links = []
    for item_role, text, url_name in NAVIGATION:
        if item_role != role:
            continue
        try:
            links.append((text, reverse(url_name)))
        except NoReverseMatch:
            continue
    # The page belongs to the deepest entry whose address it is under: the preview at
    # /employers/eligibility-preview/ is not also "Employers" at /employers/.
    under = [href for _text, href in links if path.startswith(href) and href != "/"]
    current = max(under, key=len, default=None)
    return [NavItem(text=text, href=href, current=href == current) for text, href in links]
