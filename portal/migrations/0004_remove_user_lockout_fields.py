# Sign-in failures are counted in the cache by portal.throttle; the lock-out columns go.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0003_audit_append_only"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="user",
            name="failed_login_count",
        ),
        migrations.RemoveField(
            model_name="user",
            name="locked_until",
        ),
    ]
