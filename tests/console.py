"""Logging in to the console in tests: the password step skipped (force_login), the second
factor verified with a real TOTP device, as the login's own pages would leave the session."""

from __future__ import annotations

from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice


def totp_device(user) -> TOTPDevice:
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)


def current_code(device: TOTPDevice, *, offset_steps: int = 0) -> str:
    """The code an authenticator app shows now (or `offset_steps` steps away)."""
    generator = TOTP(
        device.bin_key, device.step, device.t0, device.digits, device.drift + offset_steps
    )
    return f"{generator.token():0{device.digits}d}"


def console_login(client, user):
    """`client` logged in to the console as `user`, second factor verified."""
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = totp_device(user).persistent_id
    session.save()
    return client
