"""Cookie conventions: every app owns a cookie range, so its rules can be found and removed
without touching another app's.

A 64-bit OpenFlow cookie is laid out as::

    bits 63..48  app id     (APP_IDS below; 0 is left to apps that know nothing of this)
    bits 47..40  rule kind  (chosen by the app: table-miss, learned source, flood, ...)
    bits 39..0   free       (an app may put an epoch, a hash, a rule number here)

A flow-mod DELETE with ``cookie=app_cookie, cookie_mask=APP_MASK`` removes exactly one
app's rules; with ``KIND_MASK`` exactly one kind of them.
"""

from dataclasses import dataclass

APP_SHIFT = 48
KIND_SHIFT = 40
APP_MASK = 0xFFFF << APP_SHIFT
KIND_MASK = APP_MASK | (0xFF << KIND_SHIFT)
FREE_MASK = (1 << KIND_SHIFT) - 1

# One entry per app of the suite; never reuse a retired number. Under apps/arbiter.py,
# apps that know nothing of this (ryu.app.*) get ids from THIRD_PARTY_BASE up, in the
# order the arbiter first sees them, and a rule two apps share moves into the arbiter's
# own range (controller/arbiter/engine.py).
THIRD_PARTY_BASE = 0x8000
APP_IDS = {
    'l2_learning': 0x0001,
    'stable_routing': 0x0002,
    'arbiter': 0x0003,
    'vswitch_policy': 0x0004,
    'ethertype_filter': 0x0005,  # examples/apps/ethertype_filter.py (docs/architecture.md)
}


@dataclass(frozen=True)
class CookieSpace:
    """The cookie range of one app."""

    app: str

    @property
    def app_id(self) -> int:
        return APP_IDS[self.app]

    def cookie(self, kind: int, free: int = 0) -> int:
        """The cookie of a rule of ``kind`` (0..255), with ``free`` in the low 40 bits."""
        if not 0 <= kind <= 0xFF:
            raise ValueError('rule kind %r outside 0..255' % kind)
        if not 0 <= free <= FREE_MASK:
            raise ValueError('free cookie bits %r outside 40 bits' % free)
        return (self.app_id << APP_SHIFT) | (kind << KIND_SHIFT) | free

    def all_rules(self) -> tuple[int, int]:
        """(cookie, cookie_mask) matching every rule of this app."""
        return self.app_id << APP_SHIFT, APP_MASK

    def rules_of_kind(self, kind: int) -> tuple[int, int]:
        """(cookie, cookie_mask) matching this app's rules of one kind."""
        return self.cookie(kind), KIND_MASK

    def owns(self, cookie: int) -> bool:
        return cookie >> APP_SHIFT == self.app_id

    @staticmethod
    def kind_of(cookie: int) -> int:
        return (cookie >> KIND_SHIFT) & 0xFF


def owner_of(cookie: int) -> str | None:
    """Name of the app whose range ``cookie`` is in, or None."""
    app_id = cookie >> APP_SHIFT
    for name, number in APP_IDS.items():
        if number == app_id:
            return name
    return None
