"""Settings of the live server the browser tests start: the test settings, static files from the finders."""

from tests.settings import *  # noqa: F403

WHITENOISE_USE_FINDERS = True  # no collectstatic needed for a throwaway server
WHITENOISE_AUTOREFRESH = True
