"""Print the current 6-digit multi-factor code of a demo account, so a newcomer can sign in as
a local lead, NHS team member or administrator without an authenticator app."""

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from allauth.mfa.utils import decrypt
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.models import User


def current_code(email: str) -> str:
    """The code an authenticator app would show now for ``email``'s enrolled app."""
    import time

    from allauth.mfa import app_settings

    authenticator = Authenticator.objects.filter(
        user__email__iexact=email.strip(), type=Authenticator.Type.TOTP
    ).first()
    if authenticator is None:
        if not User.objects.filter(email__iexact=email.strip()).exists():
            raise CommandError(f"There is no account for {email}. Run `manage.py seed_demo`.")
        raise CommandError(f"{email} has no authenticator app set up, so needs no code.")
    counter = int(time.time()) // app_settings.TOTP_PERIOD
    return format_hotp_value(hotp_value(decrypt(authenticator.data["secret"]), counter))


class Command(BaseCommand):
    help = "Print the current 6-digit MFA code of a demo account (only when DEBUG is on)."

    def add_arguments(self, parser):
        parser.add_argument("email", help="the demo account's email address")

    def handle(self, *args, email: str, **options):
        if not settings.DEBUG:
            raise CommandError(
                "demo_totp reads a user's MFA secret, so it only runs when DEBUG is on."
            )
        self.stdout.write(current_code(email))
