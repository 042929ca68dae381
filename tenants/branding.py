"""A tenant's brand as the approver web app shows it: validated colours, a logo we serve, app names.

Colours are validated as ``#rrggbb`` so they can be written into a stylesheet without escaping; the
text colour on the primary colour is chosen for contrast (WCAG 2 relative luminance), so an operator
cannot pick an unreadable combination.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

if TYPE_CHECKING:
    from tenants.models import Tenant

hex_color = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a colour like #1d4ed8.")

LOGO_MAX_BYTES = 512 * 1024
# Magic bytes of the raster formats we accept; SVG is refused because it can carry script.
_LOGO_TYPES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"RIFF", "image/webp"))

DEFAULT_PRIMARY = "#1d4ed8"
DEFAULT_BACKGROUND = "#ffffff"
DEFAULT_PRODUCT = "MFA Approver"


def logo_content_type(head: bytes) -> str | None:
    """The image type of a logo from its first bytes, or None when it is not an accepted format."""
    for magic, content_type in _LOGO_TYPES:
        if head.startswith(magic) and (content_type != "image/webp" or head[8:12] == b"WEBP"):
            return content_type
    return None


def validate_logo(file: Any) -> None:
    """Model validator: a PNG, JPEG or WebP image of at most ``LOGO_MAX_BYTES``."""
    if file.size > LOGO_MAX_BYTES:
        raise ValidationError("The logo must be at most 512 KB.")
    position = file.tell() if hasattr(file, "tell") else 0
    file.seek(0)
    head = file.read(16)
    file.seek(position)
    if logo_content_type(head) is None:
        raise ValidationError("The logo must be a PNG, JPEG or WebP image.")


def _luminance(color: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast_ratio(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def readable_text_on(color: str) -> str:
    """Black or white, whichever contrasts more with ``color`` (always at least 4.58:1, WCAG AA)."""
    return "#000000" if contrast_ratio(color, "#000000") >= contrast_ratio(color, "#ffffff") else "#ffffff"


@dataclass(frozen=True)
class Brand:
    """What the web app needs to wear a tenant's brand."""

    slug: str
    product_name: str
    app_name: str
    app_short_name: str
    primary_color: str
    on_primary_color: str
    background_color: str
    text_color: str
    support_contact: str
    has_logo: bool


def brand_for(tenant: Tenant | None) -> Brand:
    """The tenant's brand, or the product's default brand when no tenant is known yet."""
    if tenant is None:
        primary, background = DEFAULT_PRIMARY, DEFAULT_BACKGROUND
        return Brand(
            slug="",
            product_name=DEFAULT_PRODUCT,
            app_name=DEFAULT_PRODUCT,
            app_short_name="Approver",
            primary_color=primary,
            on_primary_color=readable_text_on(primary),
            background_color=background,
            text_color=readable_text_on(background),
            support_contact="",
            has_logo=False,
        )
    product = tenant.display_name
    return Brand(
        slug=tenant.slug,
        product_name=product,
        app_name=tenant.app_name or f"{product} Approver",
        app_short_name=tenant.app_short_name or product[:12],
        primary_color=tenant.brand_primary_color,
        on_primary_color=readable_text_on(tenant.brand_primary_color),
        background_color=tenant.brand_background_color,
        text_color=readable_text_on(tenant.brand_background_color),
        support_contact=tenant.support_contact,
        has_logo=bool(tenant.brand_logo),
    )
